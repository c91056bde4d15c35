/* runner/checkpoints_cmd.h: `weir checkpoints DIR`. */
#ifndef WEIR_RUNNER_CHECKPOINTS_CMD_H
#define WEIR_RUNNER_CHECKPOINTS_CMD_H

/* Lists and checks the checkpoints in argv[0]; usage is printed for -h / errors. */
int weir__checkpoints_main(int argc, char **argv, const char *usage);

#endif

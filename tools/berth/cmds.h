/* berth command: the subcommands main.c dispatches to. Each takes its own
 * argv (argv[0] is the subcommand's name) and returns the exit code. */
#ifndef BERTH_CMD_CMDS_H
#define BERTH_CMD_CMDS_H

int cmd_http(int argc, char **argv);
int cmd_echo(int argc, char **argv);
int cmd_cat(int argc, char **argv);      /* cat.c; -u in udp.c */
int cmd_udp_echo(int argc, char **argv); /* udp.c */
int cmd_ss(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_route(int argc, char **argv); /* ss.c */
int cmd_neigh(int argc, char **argv); /* ss.c */
int cmd_demo(int argc, char **argv);
int cmd_ladder(int argc, char **argv); /* ladder_cmd.c */
int cmd_run(int argc, char **argv);    /* run.c (src/posix/) */
int cmd_plot(int argc, char **argv);

#endif

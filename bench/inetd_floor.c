/* The fork/exec ceiling of a super daemon, for `bench/run --only inetd`.
 *
 * The least a nowait TCP super daemon can do per connection: accept, fork, and in the child
 * put the connection on stdin and stdout and exec the server; the parent closes its copy and
 * reaps whatever has exited. No access check, no log, no limits, no setsid, no exec
 * confirmation. The benchmark serves the same `echo hello` with it, in the same run as svc
 * inetd and xinetd: its conn/s is what the machine allows any daemon that forks and execs a
 * server per connection, and svc's goal is a share of it.
 *
 * Usage: inetd_floor PORT PROGRAM [ARG...]   (listens on 127.0.0.1:PORT until SIGTERM)
 * Built by the benchmark with `cc -O2 -o inetd_floor inetd_floor.c`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT PROGRAM [ARG...]\n", argv[0]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
        perror("inetd_floor: listen");
        return 1;
    }
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(c, 0);
            dup2(c, 1);
            execv(argv[2], argv + 2);
            _exit(127);
        }
        close(c);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}

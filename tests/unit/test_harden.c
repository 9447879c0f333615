/*
 * test_harden.c - proc_harden(): after it, no core limit that could be
 * raised again, not dumpable, owner-only files, and an abort leaves no core.
 */
#include "tests/lib/testlib.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relayer/harden.h"

/* Exit codes of the child, one per check. */
enum { OK = 0, E_HARDEN = 10, E_LIMIT, E_RAISE, E_DUMPABLE, E_UMASK, E_CHDIR };

static int child(const char *dir)
{
    struct rlimit rl;
    struct mr_error err;

    if (chdir(dir) != 0)
        return E_CHDIR;
    /* Start from the most permissive limit we may set, so that a no-op
     * proc_harden would be seen. */
    if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_max > 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
    }
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    umask(022);

    if (proc_harden(&err) != MR_OK)
        return E_HARDEN;
    if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
        return E_LIMIT;
    rl.rlim_cur = rl.rlim_max = 1;
    if (setrlimit(RLIMIT_CORE, &rl) == 0)
        return E_RAISE;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        return E_DUMPABLE;
    mode_t old = umask(0);
    if (old != 077)
        return E_UMASK;
    umask(old);
    return OK;
}

static void test_harden(void **state)
{
    int st;
    char *dir = tv_tmpdir();
    (void)state;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = child(dir);
        free(dir); /* the child's copy: valgrind checks leaks at its _exit too */
        _exit(r);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), OK);

    /* an abort after hardening: killed by the signal, no core written */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct mr_error err;
        if (chdir(dir) != 0 || proc_harden(&err) != MR_OK) {
            free(dir);
            _exit(E_HARDEN);
        }
        free(dir);
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_false(WCOREDUMP(st));
    char core[600];
    snprintf(core, sizeof core, "%s/core", dir);
    assert_int_not_equal(access(core, F_OK), 0);
    tv_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

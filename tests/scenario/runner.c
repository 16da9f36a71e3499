/* berth-scenario: runs one packet-level scenario script against a berth
 * stack in virtual time (see tests/scenarios/README.md). Exit status 0 when
 * every line held, 1 on the first mismatch or syntax error. */
#include "scenario.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: berth-scenario [-v] SCRIPT.pkt\n"
                    "  -v  print every event, packet verdict and trace\n");
    return 1;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return usage();
    }
    if (!file)
        return usage();
    struct scn_script sc;
    if (scn_parse_file(file, &sc) != 0)
        return 1;
    int rc = scn_run(&sc, verbose);
    scn_script_free(&sc);
    return rc == 0 ? 0 : 1;
}

/* berth-scenario: runs one packet-level scenario script against a berth
 * stack in virtual time (see tests/scenarios/README.md). Exit status 0 when
 * every line held, 1 on the first mismatch or syntax error. */
#include "scenario.h"

#include <stdio.h>
#include <string.h>

/* A script in the suite must pass: one that still says "PENDING" (the note
 * of a script showing a known bug, kept in pending/ and not run) fails, so
 * a fixed bug's note cannot outlive the fix. */
static int pending_note(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0; /* the parser reports it */
    char line[1024];
    int lineno = 0, found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        lineno++;
        if (strstr(line, "PENDING"))
            found = lineno;
    }
    fclose(f);
    if (found)
        fprintf(stderr,
                "%s:%d: says PENDING, but scripts here must pass: drop the "
                "note once the engine is fixed, or keep the script in "
                "pending/ (not run)\n",
                file, found);
    return found;
}

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
    if (pending_note(file))
        return 1;
    struct scn_script sc;
    if (scn_parse_file(file, &sc) != 0)
        return 1;
    int rc = scn_run(&sc, verbose);
    scn_script_free(&sc);
    return rc == 0 ? 0 : 1;
}

/* The library's version (CMakeLists.txt's project(VERSION)) and the git
 * commit it was built from: berth_build.h is written at every build by
 * cmake/version.cmake. */
#include "berth/berth.h"
#include "berth_build.h"

const char *berth_version(void)
{
    return BERTH_BUILD_VERSION;
}

const char *berth_commit(void)
{
    return BERTH_BUILD_COMMIT;
}

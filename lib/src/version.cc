// version.cc - lbk_version() and lbk_version_number().
#include "lbkit.h"

extern "C" {

LBK_EXTERN const char *lbk_version(void) { return LBK_VERSION_STRING; }

LBK_EXTERN unsigned int lbk_version_number(void) { return LBK_VERSION_NUMBER; }

}  // extern "C"

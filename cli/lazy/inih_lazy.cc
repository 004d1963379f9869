// cli/lazy/inih_lazy.cc - inih, loaded when a configuration file is first
// read (see lazy_library.h); inih is not linked.
#include <ini.h>

#include "lazy/lazy_library.h"

LBK_LAZY_FUNCTION(LBK_INIH_SONAME, int, ini_parse_stream,
                  (ini_reader reader, void *stream, ini_handler handler, void *user),
                  (reader, stream, handler, user))

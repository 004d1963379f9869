// cli/node_options.h - the node-selection options shared by probe, rank,
// forward and watch: node URLs on the command line, or `-c FILE`, plus
// check overrides.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace CLI {
class App;
}

namespace lbctl {

struct NodeOptions {
  std::vector<std::string> urls;  // positional: http(s)://... or tcp://host:port
  std::string config_path;        // -c FILE
  std::string pool;               // --pool NAME: only this pool of the config
  std::string check;              // --check tcp|http|https|jsonrpc
  std::string default_check;      // the kind when neither --check nor the config says
  std::string timeout;            // --timeout DURATION (per probe)
  std::string path;               // --check-path PATH
  std::string expect_status;      // --expect-status SET
  std::string jsonrpc_method;     // --jsonrpc-method NAME
  int64_t max_lag = -1;           // --max-lag N; -1 = keep
  std::string chain;              // --chain NAME
  std::string chain_id;           // --chain-id ID
  std::string ca_file;            // --cacert FILE (probe and forward)
  bool insecure = false;          // -k: no certificate verification
  unsigned concurrency = 0;       // --concurrency N; 0 = config / 1000
};

// The pool name nodes given on the command line go into.
extern const char kCommandLinePool[];

void add_node_options(CLI::App *cmd, NodeOptions &opts);

// Builds the configuration from -c FILE or from the URLs (one pool named
// kCommandLinePool), then applies the overrides.  On failure prints every
// error on stderr (file:line for config files) and returns false: the
// caller exits with kExitUsage.  An empty node list is an error.
bool resolve_config(const NodeOptions &opts, Config &out);

}  // namespace lbctl

// chain_profiles.cc - lbk_chain_profile_*: the JSON-RPC defaults of each
// chain family (the one table lbctl and the nginx module read).
//
// Sources of the methods: the JSON-RPC APIs the nodes document (Ethereum's
// execution API, Bitcoin Core's RPC, Steem/Hive condenser_api, Solana's RPC).
// max_lag is in the chain's own head unit: about a minute of blocks at
// Ethereum's 12 s (5), Bitcoin's 10 min (1), Steem/Hive's 3 s (20), and a
// minute of Solana's 0.4 s slots (150).
#include <cstring>
#include <string>

#include "lbkit.h"

namespace {

const lbk_chain_profile kProfiles[] = {
    {"ethereum", "eth_blockNumber", "[]", "", "eth_chainId", "", "web3_clientVersion", "", 5,
     "eth_sendRawTransaction,eth_sendTransaction,eth_sendRawTransactionConditional,"
     "eth_sendBundle,eth_sendPrivateTransaction,eth_sendUserOperation,eth_submitWork,"
     "eth_submitHashrate,personal_sendTransaction,personal_*,admin_*,miner_*,debug_setHead"},
    {"bitcoin", "getblockchaininfo", "[]", "blocks", "getblockchaininfo", "chain", "getnetworkinfo",
     "subversion", 1,
     "sendrawtransaction,submitblock,submitpackage,submitheader,sendtoaddress,sendmany,send,"
     "sendall,walletpassphrase,importprivkey,importdescriptors,createwallet,loadwallet,"
     "unloadwallet,abandontransaction,bumpfee,psbtbumpfee,stop,setban,addnode"},
    {"steem", "condenser_api.get_dynamic_global_properties", "[]", "head_block_number",
     "condenser_api.get_config", "STEEM_CHAIN_ID", "condenser_api.get_version",
     "blockchain_version", 20,
     "condenser_api.broadcast_transaction,condenser_api.broadcast_transaction_synchronous,"
     "condenser_api.broadcast_block,network_broadcast_api.*"},
    {"hive", "condenser_api.get_dynamic_global_properties", "[]", "head_block_number",
     "condenser_api.get_config", "HIVE_CHAIN_ID", "condenser_api.get_version",
     "blockchain_version", 20,
     "condenser_api.broadcast_transaction,condenser_api.broadcast_transaction_synchronous,"
     "condenser_api.broadcast_block,network_broadcast_api.*"},
    {"solana", "getSlot", "[]", "", "getGenesisHash", "", "getVersion", "solana-core", 150,
     "sendTransaction,requestAirdrop"},
};

}  // namespace

extern "C" {

LBK_EXTERN const lbk_chain_profile *lbk_chain_profile_find(const char *name) {
  if (name == nullptr || name[0] == '\0') return &kProfiles[0];
  for (const lbk_chain_profile &p : kProfiles)
    if (std::strcmp(p.name, name) == 0) return &p;
  return nullptr;
}

LBK_EXTERN const lbk_chain_profile *lbk_chain_profile_by_head_method(const char *method) {
  if (method == nullptr) return nullptr;
  for (const lbk_chain_profile &p : kProfiles)
    if (std::strcmp(p.head_method, method) == 0) return &p;
  return nullptr;
}

LBK_EXTERN const char *lbk_chain_profile_names(void) {
  return "ethereum, bitcoin, steem, hive, solana";
}

LBK_EXTERN int lbk_chain_profile_is_write(const lbk_chain_profile *profile, const char *method) {
  if (method == nullptr) return 0;
  if (profile == nullptr) profile = &kProfiles[0];
  const std::string m = method;
  const std::string list = profile->write_methods;
  size_t start = 0;
  while (start < list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    if (item.back() == '*') {
      if (m.compare(0, item.size() - 1, item, 0, item.size() - 1) == 0) return 1;
    } else if (m == item) {
      return 1;
    }
  }
  return 0;
}

}  // extern "C"

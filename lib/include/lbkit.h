/*
 * lbkit.h - the public C ABI of liblbkit.
 *
 * liblbkit implements load-balancing algorithms, passive and active health
 * logic and the small protocol parsers those need.  It performs no I/O and
 * reads no clock of its own: callers (the nginx module, lbctl, lib/probe)
 * own sockets, event loops and time, and pass timestamps in.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *  - functions return int: 0 on success, a negative LBK_E* code otherwise;
 *    lbk_strerror() names a code, lbk_error_last() gives the calling
 *    thread's detailed message ("" after a success); no C++ exception
 *    leaves the library (out of memory is LBK_ENOMEM);
 *  - opaque handles come in create/free pairs; free functions accept NULL;
 *  - option structs start with `unsigned int version` and are initialised
 *    with their LBK_*_INIT macro, or from other languages with their
 *    lbk_*_init(struct, version) function; they only ever grow at the end,
 *    and every version from 1 to the header's current one is accepted;
 *  - out-parameters come first, callback payload pointers last.
 *
 * This header compiles as C99 (-Wall -Wextra -pedantic -Werror) and C++.
 */
#ifndef LBKIT_H
#define LBKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LBK_EXTERN __attribute__((visibility("default")))
#else
#define LBK_EXTERN
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define LBK_VERSION_MAJOR 1
#define LBK_VERSION_MINOR 0
#define LBK_VERSION_PATCH 0
#define LBK_VERSION_STRING "1.0.0"
/** Version as one number: major * 10000 + minor * 100 + patch. */
#define LBK_VERSION_NUMBER                                                     \
  (LBK_VERSION_MAJOR * 10000 + LBK_VERSION_MINOR * 100 + LBK_VERSION_PATCH)

/** The library's version string ("1.0.0"); static storage, thread safe. */
LBK_EXTERN const char *lbk_version(void);
/** The library's version as LBK_VERSION_NUMBER; compare with the header's. */
LBK_EXTERN unsigned int lbk_version_number(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/** Error codes.  Only ever appended to; never renumbered. */
enum lbk_error {
  LBK_OK = 0,
  LBK_EINVAL = -1,    /**< invalid argument (NULL handle, bad option) */
  LBK_ENOMEM = -2,    /**< out of memory, or the placed block is too small */
  LBK_ENOPEER = -3,   /**< no live peer: every candidate is unusable */
  LBK_EWEIGHT = -4,   /**< invalid weight (0 or above LBK_WEIGHT_MAX) */
  LBK_EDUPNAME = -5,  /**< a peer with that name already exists */
  LBK_EMETHOD = -6,   /**< unknown balancing method or method argument */
  LBK_ETOOMANY = -7,  /**< the pool is at its max_peers capacity */
  LBK_EKEY = -8,      /**< bad hash key (missing or too long) */
  LBK_ENOTFOUND = -9, /**< no peer with that id or name */
  LBK_ERANGE = -10,   /**< value out of range, or output buffer too small */
  LBK_EPARSE = -11,   /**< malformed input (reply, agent line, status list) */
  LBK_EAGAIN = -12,   /**< incomplete input: feed more bytes */
  LBK_ELIMIT = -13,   /**< a configured size limit was exceeded */
  LBK_ELAYOUT = -14,  /**< a placed block has another layout or version */
  LBK_ENAME = -15,    /**< invalid name (empty or longer than LBK_NAME_MAX-1) */
  LBK_EINTERNAL = -16 /**< internal error (a bug; the message says where) */
};

/** Static, human-readable text for an LBK_E* code; never NULL. */
LBK_EXTERN const char *lbk_strerror(int code);
/**
 * The detailed message of the calling thread's last call that returns a
 * status code (for example "peer 'a': weight 0 is out of range 1..65535"):
 * such a call clears it when it returns 0 and sets it when it fails, so it
 * is "" after a success.  Calls that return no status (free functions,
 * lbk_pool_count(), lbk_strerror(), lbk_crc32(), the UTF-8 helpers, ...)
 * leave it as it is.  Valid until the thread's next liblbkit call.
 */
LBK_EXTERN const char *lbk_error_last(void);

/* ------------------------------------------------------------------ */
/* Clock and random number injection                                   */
/* ------------------------------------------------------------------ */

/** Returns monotonic time in microseconds.  Payload pointer last. */
typedef uint64_t (*lbk_clock_fn)(void *ud);
/** Returns 64 uniformly random bits.  Payload pointer last. */
typedef uint64_t (*lbk_rng_fn)(void *ud);

/* ------------------------------------------------------------------ */
/* Pools of peers                                                      */
/* ------------------------------------------------------------------ */

#define LBK_NAME_MAX 128    /**< bytes for a peer name, including NUL */
#define LBK_ADDRESS_MAX 256 /**< bytes for a peer address, including NUL */
#define LBK_REASON_MAX 192  /**< bytes for a reason text, including NUL */
#define LBK_WEIGHT_MAX 65535
#define LBK_PEER_NONE UINT32_MAX

/** A pool: a table of peers, their shared dynamic state and a method. */
typedef struct lbk_pool lbk_pool;

/** Hash variants of the `hash` method. */
enum lbk_hash_kind {
  LBK_HASH_KETAMA = 0, /**< nginx `hash $key consistent` (crc32, 160/weight) */
  LBK_HASH_MAGLEV = 1, /**< maglev, lookup table of 65537 entries */
  LBK_HASH_MODULO = 2  /**< nginx `hash $key` / HAProxy map-based hash */
};

/** Options for lbk_pool_create() and lbk_pool_place(). */
typedef struct lbk_pool_options {
  unsigned int version; /**< LBK_POOL_OPTIONS_VERSION */
  /**
   * Balancing method, by name; nginx and HAProxy spellings are aliases:
   * round_robin|roundrobin|rr|static-rr, least_conn|leastconn, random,
   * p2c (also "random2"), peak_ewma|ewma, fastest, first, hash|consistent,
   * maglev, source.  NULL means round_robin.
   */
  const char *method;
  uint32_t max_peers;        /**< capacity (1..LBK_PEERS_MAX); default 64 */
  int hash_kind;             /**< enum lbk_hash_kind, for method "hash" */
  uint32_t balance_factor;   /**< bounded load, HAProxy hash-balance-factor
                                  (percent, >100); 0 = unbounded */
  uint32_t random_draws;     /**< draws for random(N)/p2c; 0 = 2 */
  uint64_t ewma_decay_us;    /**< peak-EWMA decay tau; 0 = 10 s */
  uint32_t fastest_band_pct; /**< fastest: peers within this % of the best
                                  share load; 0 = 10 */
  /* Passive health beyond max_fails/fail_timeout (0 = off). */
  uint32_t outlier_consecutive; /**< eject after N consecutive failures */
  uint64_t outlier_base_ejection_us; /**< first ejection time; 0 = 30 s,
                                          grows linearly with repeats
                                          (capped at 10x) */
  uint32_t outlier_max_ejection_pct; /**< at most this % ejected; 0 = 10 */
  uint32_t panic_threshold_pct; /**< below this % usable, use all; 0 = off */
  uint64_t slow_start_us;       /**< weight ramp after recovery; 0 = off */
  /* Injection; NULL means a monotonic system clock / seeded xorshift. */
  lbk_clock_fn clock;
  void *clock_ud;
  lbk_rng_fn rng;
  void *rng_ud;
  uint64_t seed; /**< seed of the built-in generator (0 = fixed default) */
} lbk_pool_options;

#define LBK_POOL_OPTIONS_VERSION 1
#define LBK_PEERS_MAX 100000
#define LBK_POOL_OPTIONS_INIT                                                  \
  { LBK_POOL_OPTIONS_VERSION, NULL, 64, LBK_HASH_KETAMA, 0, 0, 0, 0, 0, 0, 0,  \
    0, 0, NULL, NULL, NULL, NULL, 0 }

/**
 * The lbk_*_init() functions fill a struct as its LBK_*_INIT macro does, for
 * callers that cannot use a C macro (bindings from other languages).
 * @p version is the version the caller's struct has (1 to the header's
 * *_VERSION); only that version's fields are written.  Each returns 0, or
 * LBK_EINVAL for a NULL struct or a version outside that range.
 */
LBK_EXTERN int lbk_pool_options_init(lbk_pool_options *opts,
                                     unsigned int version);

/** Static configuration of one peer. */
typedef struct lbk_peer_config {
  unsigned int version;    /**< LBK_PEER_CONFIG_VERSION */
  const char *name;        /**< unique; for hashing it is the identity, as
                                nginx uses the `server` text ("10.0.0.1:80") */
  const char *address;     /**< free text shown in status (URL, host:port);
                                NULL = name */
  uint32_t weight;         /**< 1..LBK_WEIGHT_MAX; default 1 */
  uint32_t max_conns;      /**< 0 = unlimited */
  uint32_t max_fails;      /**< nginx max_fails; 0 disables; default 1 */
  uint32_t fail_timeout_ms; /**< nginx fail_timeout; default 10000 */
  int backup;              /**< used only when no primary is usable */
  int down;                /**< administratively down */
} lbk_peer_config;

#define LBK_PEER_CONFIG_VERSION 1
#define LBK_PEER_CONFIG_INIT                                                   \
  { LBK_PEER_CONFIG_VERSION, NULL, NULL, 1, 0, 1, 10000, 0, 0 }
/** As LBK_PEER_CONFIG_INIT (see lbk_pool_options_init()). */
LBK_EXTERN int lbk_peer_config_init(lbk_peer_config *peer,
                                    unsigned int version);

/**
 * Bytes a placed pool of @p max_peers needs (lbk_pool_place()).  The block
 * is flat and pointer-free, so it may be mapped at different addresses.
 */
LBK_EXTERN size_t lbk_pool_size(uint32_t max_peers);

/** Creates a pool on the heap.  Free it with lbk_pool_free(). */
LBK_EXTERN int lbk_pool_create(lbk_pool **out, const lbk_pool_options *opts);

/** lbk_pool_place() flags. */
enum lbk_place_flags {
  LBK_PLACE_INIT = 1,  /**< format the block (first process, or reset) */
  LBK_PLACE_ATTACH = 2 /**< use a block another process formatted */
};

/**
 * Places a pool in caller-provided memory @p mem of @p size bytes (at least
 * lbk_pool_size(opts->max_peers), 64-byte aligned), typically shared memory
 * used by several processes.  The returned handle is process-local (it holds
 * the callbacks and per-process caches); every process creates its own with
 * LBK_PLACE_ATTACH, or inherits one across fork().  All state in the block is
 * updated with atomics, so picks and releases need no external lock;
 * configuration changes (add/remove/set_*) are serialised by a lock inside
 * the block.  lbk_pool_free() on a placed pool frees the handle only.
 */
LBK_EXTERN int lbk_pool_place(lbk_pool **out, void *mem, size_t size,
                              const lbk_pool_options *opts, unsigned int flags);

/** Frees a pool handle (and, for heap pools, its state).  NULL is fine. */
LBK_EXTERN void lbk_pool_free(lbk_pool *pool);

/** The canonical name of the pool's method ("round_robin", ...). */
LBK_EXTERN const char *lbk_pool_method(const lbk_pool *pool);

/** Canonical method name for a name or alias, or NULL if unknown. */
LBK_EXTERN const char *lbk_method_canonical(const char *name);

/** Adds a peer; its id (a stable slot index) is stored in @p out_id. */
LBK_EXTERN int lbk_pool_add(uint32_t *out_id, lbk_pool *pool,
                            const lbk_peer_config *peer);
/** Removes a peer.  In-flight releases for it are ignored. */
LBK_EXTERN int lbk_pool_remove(lbk_pool *pool, uint32_t id);
/** Finds a peer's id by name. */
LBK_EXTERN int lbk_pool_find(uint32_t *out_id, const lbk_pool *pool,
                             const char *name);
/** Number of peers in the pool. */
LBK_EXTERN uint32_t lbk_pool_count(const lbk_pool *pool);
/**
 * Iterates ids: pass LBK_PEER_NONE to get the first; returns LBK_PEER_NONE
 * after the last.  Ids are visited in ascending order.
 */
LBK_EXTERN uint32_t lbk_pool_next(const lbk_pool *pool, uint32_t id);

/** Administrative states. */
enum lbk_admin_state {
  LBK_ADMIN_UP = 0,    /**< in service */
  LBK_ADMIN_DRAIN = 1, /**< no new requests (hash keys move away) */
  LBK_ADMIN_MAINT = 2, /**< maintenance: no requests, checks stop */
  LBK_ADMIN_DOWN = 3   /**< marked down by configuration */
};

LBK_EXTERN int lbk_pool_set_weight(lbk_pool *pool, uint32_t id,
                                   uint32_t weight);
/** Scales the configured weight to @p pct percent (0..100; HAProxy agent). */
LBK_EXTERN int lbk_pool_set_weight_pct(lbk_pool *pool, uint32_t id,
                                       uint32_t pct);
LBK_EXTERN int lbk_pool_set_state(lbk_pool *pool, uint32_t id, int admin_state);
/** Sets max_conns at run time (0 = unlimited; HAProxy agent `maxconn:N`). */
LBK_EXTERN int lbk_pool_set_max_conns(lbk_pool *pool, uint32_t id,
                                      uint32_t max_conns);
/**
 * Sets max_fails (0 disables) and fail_timeout at run time (the NGINX Plus
 * API's PATCH).  The current failure window is kept and judged by the new
 * limits from the next pick on.  Thread and process safe.
 */
LBK_EXTERN int lbk_pool_set_fail_limits(lbk_pool *pool, uint32_t id,
                                        uint32_t max_fails,
                                        uint32_t fail_timeout_ms);

/**
 * Suspect peers: a peer with requests in flight that has completed none
 * (LBK_OUTCOME_OK) for longer than max(@p floor_us, 5 x its observed
 * latency), counted from its last success or from when it became busy
 * (unless its last request stalled: failed after no progress beyond the
 * floor), is suspect of hanging; a peer whose last request stalled stays
 * suspect for 10 s with nothing in flight, then is tried again.  peak_ewma and fastest avoid suspect peers while
 * another is usable; with @p all_methods every method does.  @p floor_us 0
 * turns it off.  Default: floor 20 ms, latency-aware methods only.  Shared
 * by every process of the pool.
 */
LBK_EXTERN int lbk_pool_set_suspect(lbk_pool *pool, uint64_t floor_us,
                                    int all_methods);

/**
 * Picks a peer.  @p key / @p key_len feed hash methods (ignored by the
 * others); as with nginx's hash, an empty key (key_len 0) is balanced by
 * round robin, and a walk past 21 unusable candidates ends in round robin
 * (LBK_EKEY: key NULL with key_len > 0, or longer than 64 KiB).  @p tried is a bitmap of
 * ids to skip (bit id % 64 of word id / 64), @p tried_words its length; NULL
 * for none.  Skips tried, admin down/drain/maint, health-down, full
 * (max_conns), failed (max_fails within fail_timeout) and ejected peers;
 * backups are used only when no primary is usable.  On success the peer's
 * active count is incremented: every successful pick must be followed by
 * exactly one lbk_pool_release().  Returns LBK_ENOPEER when none is usable.
 * Thread and process safe.
 */
LBK_EXTERN int lbk_pool_pick(uint32_t *out_id, lbk_pool *pool, const void *key,
                             size_t key_len, const uint64_t *tried,
                             size_t tried_words);

/** How a request to a peer ended. */
enum lbk_outcome_result {
  LBK_OUTCOME_OK = 0,       /**< a response was received */
  LBK_OUTCOME_FAILED = 1,   /**< counts against max_fails and outliers */
  LBK_OUTCOME_CANCELLED = 2 /**< abandoned (hedge loser): no statistics */
};

typedef struct lbk_outcome {
  unsigned int version; /**< LBK_OUTCOME_VERSION */
  int result;           /**< enum lbk_outcome_result */
  uint64_t latency_us;  /**< time to response; feeds peak-EWMA when OK
                             (0 = not measured: no sample) */
  int status;           /**< protocol status (HTTP), 0 if none */
  /* version 2: traffic statistics (lbk_peer_info version 2) */
  uint64_t bytes_sent;       /**< bytes sent to the peer */
  uint64_t bytes_received;   /**< bytes received from the peer */
  uint64_t header_time_us;   /**< pick to the end of the response header;
                                  0 = no header */
  uint64_t response_time_us; /**< pick to the end of the response (or of the
                                  attempt); 0 = not measured */
} lbk_outcome;

#define LBK_OUTCOME_VERSION 2
#define LBK_OUTCOME_INIT { LBK_OUTCOME_VERSION, LBK_OUTCOME_OK, 0, 0, 0, 0, 0, 0 }
/** As LBK_OUTCOME_INIT; version 1 writes only the fields before
 *  bytes_sent (see lbk_pool_options_init()). */
LBK_EXTERN int lbk_outcome_init(lbk_outcome *outcome, unsigned int version);

/**
 * Ends a pick: decrements active, feeds passive health and latency and the
 * peer's traffic statistics.  Accepts outcome versions 1 (no byte counts or
 * times) to LBK_OUTCOME_VERSION.  A status 100..599 counts a response of its
 * class; the peer's last-selected time is the release time minus
 * latency_us (the pick).  Cancelled outcomes count nothing.
 */
LBK_EXTERN int lbk_pool_release(lbk_pool *pool, uint32_t id,
                                const lbk_outcome *outcome);

/** Health as seen by active checks. */
enum lbk_health {
  LBK_HEALTH_UNKNOWN = 0, /**< never checked (usable) */
  LBK_HEALTH_UP = 1,
  LBK_HEALTH_DOWN = 2
};

/** A snapshot of one peer (lbk_pool_peer_info()). */
typedef struct lbk_peer_info {
  unsigned int version; /**< set by the caller: LBK_PEER_INFO_VERSION */
  uint32_t id;
  char name[LBK_NAME_MAX];
  char address[LBK_ADDRESS_MAX];
  uint32_t weight;           /**< configured */
  uint32_t effective_weight; /**< after agent %, slow start */
  uint32_t max_conns, max_fails, fail_timeout_ms;
  int backup;
  int admin_state; /**< enum lbk_admin_state */
  int health;      /**< enum lbk_health */
  int usable;      /**< would a pick consider it now (panic included) */
  uint32_t active;
  uint64_t requests, successes, failures;
  uint32_t fails_in_window;
  uint64_t ewma_latency_us;  /**< peak-EWMA of request latency */
  uint64_t probe_latency_us; /**< recent active-check latency (fastest) */
  uint64_t checks, checks_failed;
  uint64_t last_check_us;    /**< clock time of the last check, 0 = never */
  int last_check_ok;
  int has_value;             /**< jsonrpc: last numeric value (head) */
  int64_t value;
  int64_t lag;               /**< best healthy value minus ours */
  uint32_t ejections;
  uint64_t ejected_until_us;
  uint64_t last_change_us;   /**< last health/admin state change */
  char last_reason[LBK_REASON_MAX];
  /* version 2: traffic statistics, as NGINX Plus reports an upstream peer */
  uint64_t responses[5];       /**< responses by status class 1xx..5xx */
  uint64_t responses_total;    /**< every released outcome with a status */
  uint64_t bytes_sent;         /**< sum of lbk_outcome.bytes_sent */
  uint64_t bytes_received;     /**< sum of lbk_outcome.bytes_received */
  uint64_t header_time_avg_us;   /**< mean header time; 0 = none yet */
  uint64_t response_time_avg_us; /**< mean response time; 0 = none yet */
  uint64_t last_selected_us;   /**< clock time of the last pick whose
                                    release came in; 0 = never */
  uint64_t unavail;            /**< times max_fails made it unusable */
  uint64_t unhealthy;          /**< times active checks took it down */
  uint64_t downtime_us;        /**< total time unusable for health reasons
                                    (checks down, max_fails window,
                                    ejection), the current spell included */
  uint64_t down_since_us;      /**< clock time the current spell began;
                                    0 = not down */
} lbk_peer_info;

#define LBK_PEER_INFO_VERSION 2
/** Zeroes the struct and sets its version, ready for lbk_pool_peer_info();
 *  version 1 writes only the fields before responses. */
LBK_EXTERN int lbk_peer_info_init(lbk_peer_info *info, unsigned int version);

/**
 * Fills @p out (whose version the caller sets: 1 to LBK_PEER_INFO_VERSION;
 * only that version's fields are written) with a snapshot of @p id.
 */
LBK_EXTERN int lbk_pool_peer_info(lbk_peer_info *out, const lbk_pool *pool,
                                  uint32_t id);

/**
 * Zeroes the traffic statistics of peer @p id: requests, successes,
 * failures, responses, bytes, times, last selected, unavail, unhealthy,
 * downtime (a current down spell restarts now), checks and failed checks.
 * State (health, failure window, weights) is kept.  Thread and process safe.
 */
LBK_EXTERN int lbk_pool_peer_reset_stats(lbk_pool *pool, uint32_t id);

/* ------------------------------------------------------------------ */
/* Active health checks (sans-I/O)                                     */
/* ------------------------------------------------------------------ */

enum lbk_check_kind {
  LBK_CHECK_TCP = 1,     /**< connect succeeds */
  LBK_CHECK_HTTP = 2,    /**< HTTP/1.1 request, judge status and body */
  LBK_CHECK_HTTPS = 3,   /**< the same over TLS (the driver does TLS) */
  LBK_CHECK_JSONRPC = 4, /**< JSON-RPC 2.0 POST over HTTP(S) */
  LBK_CHECK_AGENT = 5    /**< HAProxy agent-check reply line */
};

/** Check definition, shared by every peer it applies to. */
/** The largest rise and fall lbk_check_create() accepts (the smallest is 1). */
#define LBK_CHECK_RISE_FALL_MAX 1000
/** The largest jitter_pct lbk_check_create() accepts. */
#define LBK_CHECK_JITTER_PCT_MAX 50

typedef struct lbk_check_options {
  unsigned int version; /**< LBK_CHECK_OPTIONS_VERSION */
  int kind;             /**< enum lbk_check_kind; default http */
  uint32_t rise;        /**< successes to go up (1..1000); default 2 */
  uint32_t fall;        /**< failures to go down (1..1000); default 3 */
  uint32_t inter_ms;    /**< interval while steady; default 2000 */
  uint32_t fastinter_ms; /**< while transitioning; 0 = inter */
  uint32_t downinter_ms; /**< while down; 0 = inter */
  uint32_t timeout_ms;  /**< whole check; default 1000 */
  uint32_t jitter_pct;  /**< +/- spread of intervals (0..50); default 10 */
  int initial_health;   /**< enum lbk_health a new peer starts with.
                             Default LBK_HEALTH_UP with the counter at rise,
                             as HAProxy starts servers: a new or reloaded
                             peer serves at once (no 502 burst while the
                             first checks run) and, being one step from the
                             bottom, a single failed check takes a dead one
                             out.  LBK_HEALTH_DOWN starts at 0 (rise
                             successes needed); LBK_HEALTH_UNKNOWN is usable
                             like UP until the first verdict. */
  /* http, https, jsonrpc */
  const char *method;   /**< default "GET" ("POST" for jsonrpc) */
  const char *path;     /**< default "/" */
  const char *host;     /**< Host header; NULL = the peer's host */
  const char *headers;  /**< extra header lines, "Name: value" separated by
                             '\n'; NULL = none */
  const char *body;     /**< request body; NULL = none */
  const char *expect_status; /**< "200-399" (default), "200,204,300-399" */
  const char *expect_body;   /**< substring the body must contain */
  /* jsonrpc */
  const char *jsonrpc_method; /**< default "eth_blockNumber" */
  const char *jsonrpc_params; /**< JSON array/object text; default "[]" */
  const char *jsonrpc_field;  /**< path into `result` of a numeric value
                                   ("" = result itself, "number",
                                   "a.b.0"); NULL = none.  Hex strings
                                   ("0x1a") and decimals are numbers.
                                   NULL with the head_method of a chain
                                   profile (eth_blockNumber, ...) = that
                                   profile's head_field. */
  int64_t max_lag;            /**< unhealthy when best - value > max_lag;
                                   0 = no lag check */
  const char *version_field;  /**< path into `result` of a version string;
                                   NULL = none */
  const char *min_version;    /**< dotted minimum version; NULL = none */
  /* agent */
  const char *agent_send;     /**< line sent to an agent; NULL = none */
  /* limits */
  uint32_t max_header_bytes;  /**< default 16384 */
  uint32_t max_body_bytes;    /**< default 1048576 */
} lbk_check_options;

#define LBK_CHECK_OPTIONS_VERSION 1
#define LBK_CHECK_OPTIONS_INIT                                                 \
  { LBK_CHECK_OPTIONS_VERSION, LBK_CHECK_HTTP, 2, 3, 2000, 0, 0, 1000, 10,     \
    LBK_HEALTH_UP, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,       \
    NULL, 0, NULL, NULL, NULL, 0, 0 }
/** As LBK_CHECK_OPTIONS_INIT (see lbk_pool_options_init()). */
LBK_EXTERN int lbk_check_options_init(lbk_check_options *opts,
                                      unsigned int version);

/** A compiled check definition; immutable, thread safe to share. */
typedef struct lbk_check lbk_check;

/** Validates and compiles options (copies every string). */
LBK_EXTERN int lbk_check_create(lbk_check **out, const lbk_check_options *opts);
LBK_EXTERN void lbk_check_free(lbk_check *check);
LBK_EXTERN int lbk_check_kind(const lbk_check *check);

/**
 * The name of an enum lbk_check_kind as configurations write it and status
 * pages show it: "tcp", "http", "https", "jsonrpc", "agent"; "unknown" for
 * another value.  Static, never NULL.
 */
LBK_EXTERN const char *lbk_check_kind_name(int kind);
/**
 * The enum lbk_check_kind that lbk_check_kind_name() names @p name (@p len
 * bytes, no NUL needed; exact, lower case), or 0 when no kind has it.
 */
LBK_EXTERN int lbk_check_kind_from_name(const char *name, size_t len);

/**
 * Renders the bytes to send for one check of a peer whose host (for the
 * Host header) is @p host.  On entry *@p inout_len is the size of @p buf;
 * on return the length written, or with LBK_ERANGE the size needed.
 * A tcp check renders nothing (length 0).
 */
LBK_EXTERN int lbk_check_request(char *buf, size_t *inout_len,
                                 const lbk_check *check, const char *host);

/** Why a check passed or failed. */
enum lbk_check_outcome {
  LBK_CHECK_PASS = 0,
  LBK_CHECK_FAIL_CONNECT = 1,  /**< refused, unreachable, reset early */
  LBK_CHECK_FAIL_TIMEOUT = 2,  /**< no complete reply within timeout */
  LBK_CHECK_FAIL_TLS = 3,      /**< handshake or certificate failure */
  LBK_CHECK_FAIL_DNS = 4,      /**< name did not resolve */
  LBK_CHECK_FAIL_PROTOCOL = 5, /**< malformed or truncated reply */
  LBK_CHECK_FAIL_STATUS = 6,   /**< status not in the expected set */
  LBK_CHECK_FAIL_BODY = 7,     /**< expected body substring missing */
  LBK_CHECK_FAIL_JSONRPC = 8,  /**< no result, or an error member */
  LBK_CHECK_FAIL_LAG = 9,      /**< value lags the best peer by > max_lag */
  LBK_CHECK_FAIL_VERSION = 10, /**< version below min_version */
  LBK_CHECK_FAIL_LIMIT = 11,   /**< reply exceeded a size limit */
  LBK_CHECK_FAIL_AGENT = 12    /**< agent said down/fail/stopped/maint */
};

/** The verdict on one check attempt. */
typedef struct lbk_check_result {
  unsigned int version; /**< LBK_CHECK_RESULT_VERSION */
  int outcome;          /**< enum lbk_check_outcome */
  int http_status;      /**< 0 if none */
  uint64_t duration_us; /**< filled by the driver: start to verdict */
  int has_value;        /**< jsonrpc_field found and numeric */
  int64_t value;
  char version_str[64]; /**< jsonrpc version_field, "" if none */
  /* agent replies (kind agent); -1 = not present */
  int agent_state;      /**< enum lbk_agent_state, or -1 */
  int agent_weight_pct;
  int agent_maxconn;
  char reason[LBK_REASON_MAX]; /**< human text: "status 500", ... */
} lbk_check_result;

#define LBK_CHECK_RESULT_VERSION 1
/** A passing verdict with nothing measured (no status, value, version or
 *  agent words; agent fields -1), for a driver that judges a check itself
 *  before lbk_pool_report_check(). */
LBK_EXTERN int lbk_check_result_init(lbk_check_result *result,
                                     unsigned int version);

/**
 * The short name of an enum lbk_check_outcome, as status pages, logs and
 * lbctl show it: "pass", "connect", "timeout", "tls", "dns", "protocol",
 * "status", "body", "jsonrpc", "lag", "version", "limit", "agent";
 * "unknown" for another value.  Static, never NULL.
 */
LBK_EXTERN const char *lbk_check_outcome_name(int outcome);

/** Incremental reader/judge of one check reply. */
typedef struct lbk_check_reply lbk_check_reply;

/**
 * Creates a reader for replies to @p check, which must outlive it.  A tcp
 * check's verdict is PASS at once (the driver asks for it only after its
 * connection succeeded).  An http(s) check without expect_body is judged as
 * soon as the headers are in; a status outside expect_status fails at once.
 * An agent reply ends at the first CR or LF (or at the close).  One reader
 * serves one attempt at a time; not thread safe.
 */
LBK_EXTERN int lbk_check_reply_create(lbk_check_reply **out,
                                      const lbk_check *check);
/** Makes the reader ready for the next attempt (keeps its buffers). */
LBK_EXTERN void lbk_check_reply_reset(lbk_check_reply *reply);
LBK_EXTERN void lbk_check_reply_free(lbk_check_reply *reply);
/**
 * Feeds received bytes.  Returns LBK_EAGAIN while more are needed and 0 once
 * a verdict is available (lbk_check_reply_result()); bytes after a complete
 * reply are ignored.  Malformed input or exceeded limits also return 0 with a
 * failing verdict: feeding never fails on the peer's behalf.
 */
LBK_EXTERN int lbk_check_reply_feed(lbk_check_reply *reply, const void *data,
                                    size_t len);
/** The peer closed the connection; returns 0 (verdict now available). */
LBK_EXTERN int lbk_check_reply_eof(lbk_check_reply *reply);
/** Copies the verdict; LBK_EAGAIN if none yet. */
LBK_EXTERN int lbk_check_reply_result(lbk_check_result *out,
                                      const lbk_check_reply *reply);
/**
 * Fills @p out with a driver-side failure (connect, timeout, TLS, DNS).  The
 * reason is the outcome's phrase then @p detail (may be NULL):
 * "timed out after 1000ms" (TIMEOUT: pass "after 1000ms"), "connect failed:
 * <detail>", "TLS failed: <detail>", "DNS lookup failed: <detail>"; other
 * outcomes take @p detail as it is.  Truncated to LBK_REASON_MAX - 1.
 */
LBK_EXTERN void lbk_check_result_fail(lbk_check_result *out, int outcome,
                                      const char *detail);

/**
 * Per-peer active-check state: a flat, pointer-free block the caller may
 * keep anywhere (lbk_pool keeps one per peer in its own block).
 * Semantics are HAProxy's: a health counter from 0 to rise+fall-1; the peer
 * is up while counter >= rise; a success increments and a failure
 * decrements; on reaching rise the counter jumps to rise+fall-1, on falling
 * below rise it drops to 0.
 */
typedef struct lbk_health_state {
  uint64_t opaque[8];
} lbk_health_state;

/**
 * A health transition (or not) produced by lbk_health_report() and
 * lbk_pool_report_check().  The caller sets version (1 to
 * LBK_HEALTH_EVENT_VERSION, or uses LBK_HEALTH_EVENT_INIT); only that
 * version's fields are written.
 */
typedef struct lbk_health_event {
  unsigned int version; /**< set by the caller: LBK_HEALTH_EVENT_VERSION */
  int changed;          /**< 1 if the health changed */
  int old_health, new_health; /**< enum lbk_health */
  uint32_t counter;     /**< health counter after the report */
  uint32_t successes, failures; /**< consecutive, after the report */
  char reason[LBK_REASON_MAX];  /**< "http check: status 500 (2/3)" */
  /* version 2 */
  int outcome;          /**< enum lbk_check_outcome: the final verdict on
                             the check, the one the health counter took.
                             The result's outcome, except that
                             lbk_pool_report_check() turns a passing reply
                             whose value lags into LBK_CHECK_FAIL_LAG. */
} lbk_health_event;

#define LBK_HEALTH_EVENT_VERSION 2
#define LBK_HEALTH_EVENT_INIT { LBK_HEALTH_EVENT_VERSION, 0, 0, 0, 0, 0, 0, { 0 }, 0 }

/** Starts a peer in the check's initial health at time @p now_us. */
LBK_EXTERN void lbk_health_init(lbk_health_state *st, const lbk_check *check,
                                uint64_t now_us);
/**
 * Feeds one verdict; fills @p out (may be NULL).  LBK_EINVAL, with the
 * state untouched, for a NULL argument or an @p out version outside
 * 1..LBK_HEALTH_EVENT_VERSION.
 */
LBK_EXTERN int lbk_health_report(lbk_health_event *out, lbk_health_state *st,
                                 const lbk_check *check,
                                 const lbk_check_result *result,
                                 uint64_t now_us);
/** Current enum lbk_health. */
LBK_EXTERN int lbk_health_get(const lbk_health_state *st);
/**
 * Delay in microseconds until the next check: inter, fastinter while the
 * counter is between the extremes, downinter while down, spread by
 * jitter_pct using @p random (any 64 random bits).
 */
LBK_EXTERN uint64_t lbk_health_next_delay(const lbk_health_state *st,
                                          const lbk_check *check,
                                          uint64_t random);

/**
 * Feeds a check verdict for peer @p id into the pool: keeps the peer's
 * health state in the pool block, records probe latency (fastest), the
 * numeric value, the agent's state/weight/maxconn, and the reason.
 * The lag verdict is made here, and only here: when the check has max_lag,
 * a passing reply whose value is more than max_lag below the best value
 * among the pool's peers that are not down counts as LBK_CHECK_FAIL_LAG,
 * and @p out's outcome says so.  Report the highest values
 * of a round first when they arrive together, so that the best is known.
 * Fills @p out (may be NULL; its version as in lbk_health_event).  The
 * time is the pool's clock; lbk_pool_report_check_at() takes it from the
 * caller.  Thread and process safe.
 */
LBK_EXTERN int lbk_pool_report_check(lbk_health_event *out, lbk_pool *pool,
                                     uint32_t id, const lbk_check *check,
                                     const lbk_check_result *result);
/**
 * lbk_pool_report_check() at time @p now_us of the pool's clock (the
 * clock the pool's lbk_pool_options.clock reads, CLOCK_MONOTONIC in
 * microseconds without one): for a driver that keeps the time itself.
 */
LBK_EXTERN int lbk_pool_report_check_at(lbk_health_event *out, lbk_pool *pool,
                                        uint32_t id, const lbk_check *check,
                                        const lbk_check_result *result,
                                        uint64_t now_us);

/**
 * Starts active checking of peer @p id with @p check: initialises the
 * peer's health state in the check's initial health (lbk_health_init).
 * With initial LBK_HEALTH_DOWN the peer's health becomes down, so it takes
 * no requests until `rise` checks pass; with up (or unknown) its health
 * stays LBK_HEALTH_UNKNOWN (never checked, usable) until the first report.
 * A peer that already has check state (reported on, or kept across a
 * reload by lbk_pool_peer_state_copy()) is left as it is.  Call it
 * once per checked peer after adding it (and after any state copy), before
 * the pool takes traffic.  Returns LBK_ENOTFOUND for an unknown id,
 * LBK_EINVAL for a NULL check.  Thread and process safe.
 */
LBK_EXTERN int lbk_pool_attach_check(lbk_pool *pool, uint32_t id,
                                     const lbk_check *check);

/* ------------------------------------------------------------------ */
/* HAProxy agent-check replies                                         */
/* ------------------------------------------------------------------ */

enum lbk_agent_state {
  LBK_AGENT_NONE = 0,
  LBK_AGENT_UP = 1,
  LBK_AGENT_DOWN = 2,
  LBK_AGENT_DRAIN = 3,
  LBK_AGENT_READY = 4,
  LBK_AGENT_MAINT = 5,
  LBK_AGENT_STOPPED = 6,
  LBK_AGENT_FAIL = 7
};

typedef struct lbk_agent_reply {
  unsigned int version; /**< LBK_AGENT_REPLY_VERSION */
  int state;            /**< enum lbk_agent_state; NONE if absent */
  int weight_pct;       /**< -1 if absent */
  int maxconn;          /**< -1 if absent */
  char comment[LBK_REASON_MAX]; /**< text after '#', "" if none */
} lbk_agent_reply;

#define LBK_AGENT_REPLY_VERSION 1
#define LBK_AGENT_REPLY_INIT { LBK_AGENT_REPLY_VERSION, 0, -1, -1, { 0 } }
/** As LBK_AGENT_REPLY_INIT (see lbk_pool_options_init()). */
LBK_EXTERN int lbk_agent_reply_init(lbk_agent_reply *reply,
                                    unsigned int version);

/**
 * Parses one agent reply line (words separated by spaces, tabs or commas;
 * the line may end in "\n" or "\r\n") as HAProxy 2.6 does.  Unknown words
 * give LBK_EPARSE with the word in lbk_error_last().
 */
LBK_EXTERN int lbk_agent_parse(lbk_agent_reply *out, const char *line,
                               size_t len);
/**
 * Formats a reply in words HAProxy 2.6 understands ("up 75% #reason\n";
 * never "weight:N").  *@p inout_len as in lbk_check_request().
 */
LBK_EXTERN int lbk_agent_format(char *buf, size_t *inout_len,
                                const lbk_agent_reply *reply);

/* ------------------------------------------------------------------ */
/* Hashing helpers                                                     */
/* ------------------------------------------------------------------ */

/** crc32 (zlib polynomial) of @p len bytes: the key hash nginx uses. */
LBK_EXTERN uint32_t lbk_crc32(const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Text from the network                                               */
/* ------------------------------------------------------------------ */

/**
 * Copies @p src_len bytes of @p src into @p dst (@p dst_size bytes) as
 * valid UTF-8: each byte of an invalid or incomplete sequence becomes
 * U+FFFD, and text that does not fit is cut at a character boundary.  @p dst
 * is always NUL-terminated when @p dst_size > 0; NUL bytes in @p src are
 * kept as U+FFFD too, so the copy is one C string.  Returns the bytes
 * written, without the NUL.  Every text liblbkit produces from network bytes
 * (reasons, versions, agent comments) went through this.  Thread-safe.
 */
LBK_EXTERN size_t lbk_utf8_copy(char *dst, size_t dst_size, const char *src,
                                size_t src_len);

/** 1 when @p len bytes at @p s are valid UTF-8 (no NUL byte), else 0. */
LBK_EXTERN int lbk_utf8_valid(const char *s, size_t len);

/**
 * The length (1 to 4) of the valid UTF-8 character at @p s, of which @p len
 * bytes are readable, or 0 when @p s does not start one (RFC 3629: overlong
 * forms, surrogates, code points above U+10FFFF and NUL are invalid).
 */
LBK_EXTERN size_t lbk_utf8_char_len(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Carrying peer state between pools (reload)                          */
/* ------------------------------------------------------------------ */

/**
 * Copies the dynamic state of peer @p src_id of @p src onto peer @p dst_id
 * of @p dst: health (with the rise/fall counter), failure window,
 * ejection, slow-start ramp, request counters, EWMA latency, check results,
 * last reason and agent state.  Configuration (weight, max_conns, max_fails,
 * fail_timeout, backup, admin state) and the active count are not copied.
 * Used when a configuration is reloaded, to keep the state of peers that
 * still exist.  Both pools must use the same clock.  @p src is only read;
 * @p dst's peer must not be picked or reported on concurrently (copy before
 * publishing the new pool).  Returns LBK_ENOTFOUND for an unknown id.
 */
LBK_EXTERN int lbk_pool_peer_state_copy(lbk_pool *dst, uint32_t dst_id,
                                        const lbk_pool *src, uint32_t src_id);

/* ------------------------------------------------------------------ */
/* Scheduling checks of pool peers                                     */
/* ------------------------------------------------------------------ */

/**
 * Delay in microseconds until the next check of peer @p id, from the
 * health state the pool keeps for it (lbk_pool_report_check() with
 * @p check): lbk_health_next_delay(), i.e. inter while its health is
 * steady, fastinter while it is changing, downinter while it is down,
 * spread by the check's jitter using @p random.  A peer not judged yet gets
 * fastinter (as a starting server in HAProxy).  Returns LBK_ENOTFOUND for
 * an unknown id.
 */
LBK_EXTERN int lbk_pool_peer_next_check_delay(uint64_t *out_us,
                                              const lbk_pool *pool,
                                              uint32_t id,
                                              const lbk_check *check,
                                              uint64_t random);

/* ------------------------------------------------------------------ */
/* Chain profiles: the JSON-RPC check defaults of a blockchain family  */
/* ------------------------------------------------------------------ */

/**
 * What a JSON-RPC health check asks a node of one chain family, and which of
 * its methods write.  One table, used by lbctl and the nginx module, so both
 * judge nodes alike.  Strings are static and never NULL ("" = none).  The
 * struct only grows at the end (the library owns it; callers only read).
 */
typedef struct lbk_chain_profile {
  const char *name;            /**< "ethereum", "bitcoin", "steem", ... */
  const char *head_method;     /**< the check's call: "eth_blockNumber" */
  const char *head_params;     /**< its params (JSON): "[]" */
  const char *head_field;      /**< path into result of the head ("" = result) */
  const char *chain_id_method; /**< call whose result names the chain */
  const char *chain_id_field;  /**< path into that result ("" = result) */
  const char *version_method;  /**< call whose result names the client */
  const char *version_field;   /**< path into that result ("" = result) */
  int64_t max_lag;             /**< default lag limit, in head units */
  const char *write_methods;   /**< comma-separated methods that change
                                    state (never resent, never hedged); an
                                    item ending in '*' is a prefix */
} lbk_chain_profile;

/**
 * The profile named @p name ("ethereum", "bitcoin", "steem", "hive",
 * "solana"); NULL or "" gives ethereum, the default of JSON-RPC checks.
 * Returns NULL for an unknown name.  Thread safe (static data).
 */
LBK_EXTERN const lbk_chain_profile *lbk_chain_profile_find(const char *name);

/**
 * The profile whose head_method is @p method, or NULL: how a JSON-RPC check
 * given only a method finds where its head is.
 */
LBK_EXTERN const lbk_chain_profile *lbk_chain_profile_by_head_method(const char *method);

/** The comma-separated names of every profile, for help texts. */
LBK_EXTERN const char *lbk_chain_profile_names(void);

/**
 * 1 when @p method is a write method of @p profile (exact, or by a
 * prefix item), else 0.  A NULL profile means ethereum.
 */
LBK_EXTERN int lbk_chain_profile_is_write(const lbk_chain_profile *profile,
                                          const char *method);

#ifdef __cplusplus
}
#endif

#endif /* LBKIT_H */

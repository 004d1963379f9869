/*
 * ngx_http_upstream_lbkit_zone.c - the module's shared zone, the in-flight
 * ledger and the copy of peer state across reloads.
 *
 * State it owns:
 *  - The shared zone (nginx shared memory, one per cycle, allocated from its
 *    slab pool): per lbkit upstream one lbk_pool block, one
 *    ngx_http_upstream_lbkit_check_peer_t per peer id (`check_peers`), the
 *    in-flight ledger and the API's membership records (placed by
 *    ngx_http_upstream_lbkit_api_place()).  Sized at configuration time
 *    (ngx_http_upstream_lbkit_zone_add(), once per upstream), formatted by
 *    the zone init.  The zone's name alternates between two values on each
 *    reload, so that nginx keeps the previous zone mapped while the new one
 *    is initialised; the zone is never reused (noreuse).
 *  - The process-local pool handles (lscf->pool), created by the zone init
 *    and freed with the cycle's pool.
 *  - The in-flight ledger (layout: the srv conf's `ledger` fields in
 *    ngx_http_upstream_lbkit.h): an entry per worker holding its pid and its
 *    requests in flight per peer, so that a worker starting after one died
 *    can release in the pool what the dead worker's requests still hold.
 *
 * Who writes it:
 *  - The zone init runs in the master before fork (or in the single
 *    process): it places the pools, zeroes the check records and the
 *    ledger, copies surviving peers' state from the previous cycle's pools
 *    (matched by upstream name and server name: health, counters, latency
 *    and the last check record, not the check claim), then has the API code
 *    restore what it added, changed or deleted.
 *  - Ledger entries: a starting worker claims a free entry, or the entry of
 *    a worker that no longer exists, by compare-and-set on the owner pid;
 *    only the owner writes an entry's counts: the balancer
 *    (ngx_http_upstream_lbkit_module.c) counts each pick up and each free
 *    down in its own worker's entry (lscf->ledger_mine), and a worker that
 *    takes over a dead owner's entry releases its counts and zeroes them.
 *    A worker that exits normally releases what its entry still counts and
 *    frees it (owner pid 0).
 *
 * Locks (order: nginx's shpool->mutex -> liblbkit's rebuild_mutex ->
 * config_lock; liblbkit's state_lock, ewma_lock, least_conn tree lock and
 * rerank_mutex are leaves; docs/ARCHITECTURE.md, "Locks and the lock
 * order"):
 *  - The zone init holds shpool->mutex while it allocates from the slab
 *    pool and places the pools (lbk_pool_place(), lbk_pool_add(),
 *    lbk_pool_set_suspect() take liblbkit's own locks under it).  It
 *    releases the mutex before it copies state from the previous cycle's
 *    pools and before the API restore: until the new workers start only the
 *    master uses the new zone, and the old pools, which the old workers
 *    still use, are read only through lbk_pool_* calls, which take those
 *    pools' own locks.
 *  - The ledger takes no lock: the owner pid is claimed with
 *    ngx_atomic_cmp_set(), a count is written only by its entry's owner,
 *    and an entry is freed (pid 0) after a memory barrier that follows its
 *    last count.  Releasing a count calls lbk_pool_release() with a
 *    cancelled outcome, which takes at most liblbkit's least_conn tree lock
 *    (a leaf).  Whether an owner still exists is decided by the module's
 *    one rule for owner pids, ngx_http_upstream_lbkit_process_alive().
 */

#include "ngx_http_upstream_lbkit.h"
#include "ngx_http_upstream_lbkit_api.h"


#define NGX_HTTP_LBKIT_ALIGN  64      /* lbk_pool_place() alignment */


static ngx_int_t ngx_http_upstream_lbkit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


/* The two names the zone alternates between (see the file comment). */
static ngx_str_t  ngx_http_upstream_lbkit_zone_names[2] = {
    ngx_string("lbkit_state_a"),
    ngx_string("lbkit_state_b")
};


/* ---------------------------------------------------------------------- */
/* In-flight ledger: requests of a worker that died                        */
/* ---------------------------------------------------------------------- */

/* Entries per upstream: one per worker, and one spare. */
static ngx_uint_t
ngx_http_upstream_lbkit_ledger_entries(ngx_cycle_t *cycle)
{
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf == NULL || ccf->worker_processes == NGX_CONF_UNSET
        || ccf->worker_processes < 1)
    {
        return (ngx_uint_t) ngx_ncpu + 1;
    }

    return (ngx_uint_t) ccf->worker_processes + 1;
}


static ngx_atomic_t *
ngx_http_upstream_lbkit_ledger_owner(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t i)
{
    return (ngx_atomic_t *) (lscf->ledger + i * lscf->ledger_entry_size);
}


static uint32_t *
ngx_http_upstream_lbkit_ledger_counts(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t i)
{
    return (uint32_t *) (lscf->ledger + i * lscf->ledger_entry_size
                         + sizeof(ngx_atomic_t));
}


/* Releases in the pool every request entry @i still counts; returns how
   many.  The caller owns the entry (its pid is in it). */
static ngx_uint_t
ngx_http_upstream_lbkit_ledger_release(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t i)
{
    uint32_t     *counts, id;
    ngx_uint_t    released;
    lbk_outcome   cancelled = LBK_OUTCOME_INIT;

    cancelled.result = LBK_OUTCOME_CANCELLED;  /* active only, no outcome */
    counts = ngx_http_upstream_lbkit_ledger_counts(lscf, i);
    released = 0;

    for (id = 0; id < lscf->npeers; id++) {
        for ( /* void */ ; counts[id] > 0; counts[id]--) {
            (void) lbk_pool_release(lscf->pool, id, &cancelled);
            released++;
        }
    }

    return released;
}


/* Releases what entry @i still counts and frees the entry; returns how
   many requests it released.  The caller owns the entry. */
static ngx_uint_t
ngx_http_upstream_lbkit_ledger_retire(ngx_http_upstream_lbkit_srv_conf_t *lscf,
    ngx_uint_t i)
{
    ngx_uint_t  released;

    released = ngx_http_upstream_lbkit_ledger_release(lscf, i);
    ngx_memory_barrier();
    *ngx_http_upstream_lbkit_ledger_owner(lscf, i) = 0;

    return released;
}


/*
 * In a starting worker: releases what the entries of workers that no longer
 * exist still count (a SIGKILL or a crash skips every request's release;
 * the master starts a new worker in its place), then claims an entry.
 */
static void
ngx_http_upstream_lbkit_ledger_claim(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    ngx_uint_t     i, mine, released;
    ngx_pid_t      owner;
    ngx_atomic_t  *pid;

    mine = lscf->ledger_entries;   /* none yet */

    for (i = 0; i < lscf->ledger_entries; i++) {
        pid = ngx_http_upstream_lbkit_ledger_owner(lscf, i);
        owner = (ngx_pid_t) *pid;

        /* our own pid here is a dead worker's that the kernel reused for
           us: this worker has claimed nothing yet */
        if (owner == 0
            || (owner != ngx_pid
                && ngx_http_upstream_lbkit_process_alive(owner)))
        {
            continue;   /* free, or its owner lives */
        }

        if (!ngx_atomic_cmp_set(pid, (ngx_atomic_uint_t) owner,
                                (ngx_atomic_uint_t) ngx_pid))
        {
            continue;   /* another starting worker took it */
        }

        if (mine == lscf->ledger_entries) {
            released = ngx_http_upstream_lbkit_ledger_release(lscf, i);
            mine = i;

        } else {
            released = ngx_http_upstream_lbkit_ledger_retire(lscf, i);
        }

        if (released > 0) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "lbkit: upstream \"%V\": released %ui requests in "
                          "flight in exited worker %P",
                          &lscf->upstream->host, released, owner);
        }
    }

    for (i = 0; mine == lscf->ledger_entries && i < lscf->ledger_entries; i++)
    {
        if (ngx_atomic_cmp_set(ngx_http_upstream_lbkit_ledger_owner(lscf, i),
                               0, (ngx_atomic_uint_t) ngx_pid))
        {
            mine = i;
        }
    }

    if (mine == lscf->ledger_entries) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "lbkit: upstream \"%V\": no free in-flight ledger "
                      "entry; should this worker die, its requests in flight "
                      "stay counted", &lscf->upstream->host);
        lscf->ledger_mine = NULL;
        return;
    }

    lscf->ledger_my_entry = mine;
    lscf->ledger_mine = ngx_http_upstream_lbkit_ledger_counts(lscf, mine);
}


void
ngx_http_upstream_lbkit_ledger_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                            i;
    ngx_http_upstream_lbkit_srv_conf_t  **lscfp;
    ngx_http_upstream_lbkit_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upstream_lbkit_module);

    if (lmcf == NULL || ngx_process != NGX_PROCESS_WORKER) {
        return;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        if (lscfp[i]->ledger != NULL) {
            ngx_http_upstream_lbkit_ledger_claim(cycle, lscfp[i]);
        }
    }
}


/* A worker that exits normally has finished its requests; what is left
   (a shutdown timeout closed some) is released, and the entry freed. */
void
ngx_http_upstream_lbkit_ledger_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                            i;
    ngx_http_upstream_lbkit_srv_conf_t  **lscfp;
    ngx_http_upstream_lbkit_main_conf_t  *lmcf;

    lmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_upstream_lbkit_module);
    if (lmcf == NULL) {
        return;
    }

    lscfp = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        if (lscfp[i]->ledger_mine != NULL) {
            (void) ngx_http_upstream_lbkit_ledger_retire(lscfp[i],
                                                  lscfp[i]->ledger_my_entry);
            lscfp[i]->ledger_mine = NULL;
        }
    }
}


/* ---------------------------------------------------------------------- */
/* Sizing the zone (configuration time)                                   */
/* ---------------------------------------------------------------------- */

/* The main conf of the previous cycle, when this load is a reload. */
static ngx_http_upstream_lbkit_main_conf_t *
ngx_http_upstream_lbkit_previous(ngx_cycle_t *old_cycle, ngx_uint_t *name_index)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *zone;

    *name_index = 0;

    if (old_cycle == NULL) {
        return NULL;
    }

    part = &old_cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != &ngx_http_upstream_lbkit_module) {
            continue;
        }

        /* the new zone takes the other name, so the old one stays mapped */
        *name_index = (zone[i].shm.name.len
                       == ngx_http_upstream_lbkit_zone_names[0].len
                       && ngx_strncmp(zone[i].shm.name.data,
                                      ngx_http_upstream_lbkit_zone_names[0].data,
                                      zone[i].shm.name.len) == 0) ? 1 : 0;

        return zone[i].data;
    }
}


/* The bytes a slab allocation of @size takes in the zone, generously. */
static size_t
ngx_http_upstream_lbkit_slab_cost(size_t size)
{
    return ngx_align(size + NGX_HTTP_LBKIT_ALIGN, ngx_pagesize) + ngx_pagesize;
}


ngx_int_t
ngx_http_upstream_lbkit_zone_add(ngx_conf_t *cf,
    ngx_http_upstream_lbkit_main_conf_t *lmcf,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    size_t       size;
    ngx_uint_t   name_index;

    lscf->ledger_entries = ngx_http_upstream_lbkit_ledger_entries(cf->cycle);
    lscf->ledger_entry_size = ngx_align(sizeof(ngx_atomic_t)
                                        + lscf->npeers * sizeof(uint32_t),
                                        NGX_HTTP_LBKIT_ALIGN);

    lmcf->zone_size += ngx_http_upstream_lbkit_slab_cost(lscf->pool_size)
                       + ngx_http_upstream_lbkit_slab_cost(lscf->npeers
                             * sizeof(ngx_http_upstream_lbkit_check_peer_t))
                       + ngx_http_upstream_lbkit_slab_cost(
                             lscf->ledger_entries * lscf->ledger_entry_size)
                       + ngx_http_upstream_lbkit_slab_cost(
                             ngx_http_upstream_lbkit_api_shm_size(lscf,
                                                              lscf->npeers));

    /*
     * The slab allocator's own overhead: one page descriptor (well under
     * 64 bytes) per page, its header and statistics, plus spare pages.
     */
    size = lmcf->zone_size + lmcf->zone_size / 64 + 8 * ngx_pagesize;

    if (lmcf->shm_zone == NULL) {
        lmcf->previous = ngx_http_upstream_lbkit_previous(cf->cycle->old_cycle,
                                                          &name_index);

        lmcf->shm_zone = ngx_shared_memory_add(cf,
                             &ngx_http_upstream_lbkit_zone_names[name_index],
                             size, &ngx_http_upstream_lbkit_module);
        if (lmcf->shm_zone == NULL) {
            return NGX_ERROR;
        }

        lmcf->cycle = cf->cycle;
        lmcf->shm_zone->init = ngx_http_upstream_lbkit_init_zone;
        lmcf->shm_zone->data = lmcf;
        lmcf->shm_zone->noreuse = 1;
    }

    /* nginx allocates shared memory after the whole configuration is read */
    lmcf->shm_zone->shm.size = size;

    return NGX_OK;
}


/* ---------------------------------------------------------------------- */
/* Shared zone                                                            */
/* ---------------------------------------------------------------------- */

static uint64_t
ngx_http_upstream_lbkit_random(void *ud)
{
    /* random() gives 31 bits; nginx seeds it differently in each worker */
    return ((uint64_t) ngx_random() << 33)
           ^ ((uint64_t) ngx_random() << 2)
           ^ (uint64_t) ngx_random();
}


static void
ngx_http_upstream_lbkit_pool_cleanup(void *data)
{
    lbk_pool **pool = data;

    lbk_pool_free(*pool);
    *pool = NULL;
}


/* NUL-terminated copy of @s in @pool, for the C ABI. */
static char *
ngx_http_upstream_lbkit_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';

    return (char *) p;
}


/* Places one upstream's pool in the zone and adds its peers. */
static ngx_int_t
ngx_http_upstream_lbkit_place(ngx_cycle_t *cycle, ngx_slab_pool_t *shpool,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    int                              rc;
    u_char                          *mem;
    uint32_t                         id;
    ngx_uint_t                       i, configured;
    lbk_pool_options                 opts = LBK_POOL_OPTIONS_INIT;
    lbk_peer_config                  pc = LBK_PEER_CONFIG_INIT;
    ngx_pool_cleanup_t              *cln;
    ngx_http_upstream_lbkit_peer_t  *peer;

    mem = ngx_slab_alloc_locked(shpool,
                                lscf->pool_size + NGX_HTTP_LBKIT_ALIGN);
    lscf->check_peers = ngx_slab_calloc_locked(shpool, lscf->npeers
                            * sizeof(ngx_http_upstream_lbkit_check_peer_t));
    lscf->ledger = ngx_slab_calloc_locked(shpool, lscf->ledger_entries
                                          * lscf->ledger_entry_size);
    lscf->ledger_mine = NULL;

    if (mem == NULL || lscf->check_peers == NULL || lscf->ledger == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: shared zone too small for upstream \"%V\"",
                      &lscf->upstream->host);
        return NGX_ERROR;
    }

    mem = ngx_align_ptr(mem, NGX_HTTP_LBKIT_ALIGN);

    opts.method = ngx_http_upstream_lbkit_cstr(cycle->pool, &lscf->method);
    if (opts.method == NULL) {
        return NGX_ERROR;
    }

    opts.max_peers = (uint32_t) lscf->npeers;
    opts.hash_kind = (int) lscf->hash_kind;
    opts.balance_factor = (uint32_t) lscf->balance_factor;
    opts.ewma_decay_us = (uint64_t) lscf->ewma_decay * 1000;
    opts.slow_start_us = (uint64_t) lscf->check.slow_start * 1000;
    opts.rng = ngx_http_upstream_lbkit_random;

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    rc = lbk_pool_place(&lscf->pool, mem, lscf->pool_size, &opts,
                        LBK_PLACE_INIT);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "lbkit: upstream \"%V\": %s (%s)", &lscf->upstream->host,
                      lbk_strerror(rc), lbk_error_last());
        return NGX_ERROR;
    }

    /* the handle is process-local; free it with the cycle */
    cln->handler = ngx_http_upstream_lbkit_pool_cleanup;
    cln->data = &lscf->pool;

    if (lscf->suspect_set) {
        /* suspect=TIME: every method avoids suspect servers; off: none */
        (void) lbk_pool_set_suspect(lscf->pool,
                                    (uint64_t) lscf->suspect * 1000,
                                    lscf->suspect != 0);
    }

    peer = lscf->peers;
    configured = 0;

    for (i = 0; i < lscf->npeers; i++) {
        if (!peer[i].used) {
            continue;       /* room for servers the API adds */
        }

        configured++;
        pc.name = ngx_http_upstream_lbkit_cstr(cycle->pool, &peer[i].name);
        pc.address = ngx_http_upstream_lbkit_cstr(cycle->pool,
                                                  &peer[i].address);
        if (pc.name == NULL || pc.address == NULL) {
            return NGX_ERROR;
        }

        pc.weight = (uint32_t) peer[i].weight;
        pc.max_conns = (uint32_t) peer[i].max_conns;
        pc.max_fails = (uint32_t) peer[i].max_fails;
        pc.fail_timeout_ms = (uint32_t) peer[i].fail_timeout;
        pc.backup = peer[i].backup;
        pc.down = peer[i].down;

        rc = lbk_pool_add(&id, lscf->pool, &pc);

        if (rc == LBK_EDUPNAME) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "lbkit: upstream \"%V\" lists server \"%V\" more "
                          "than once", &lscf->upstream->host, &peer[i].name);
            return NGX_ERROR;
        }

        if (rc != 0) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "lbkit: upstream \"%V\" server \"%V\": %s (%s)",
                          &lscf->upstream->host, &peer[i].name,
                          lbk_strerror(rc), lbk_error_last());
            return NGX_ERROR;
        }

        if (id != peer[i].id) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "lbkit: upstream \"%V\" server \"%V\": pool gave "
                          "id %uD, expected %uD", &lscf->upstream->host,
                          &peer[i].name, id, peer[i].id);
            return NGX_ERROR;
        }
    }

    return ngx_http_upstream_lbkit_api_place(cycle, shpool, lscf, configured);
}


ngx_http_upstream_lbkit_srv_conf_t *
ngx_http_upstream_lbkit_zone_previous_upstream(
    ngx_http_upstream_lbkit_main_conf_t *old,
    ngx_http_upstream_lbkit_srv_conf_t *lscf)
{
    ngx_uint_t                            i;
    ngx_http_upstream_lbkit_srv_conf_t  **ou;

    if (old == NULL) {
        return NULL;
    }

    ou = old->upstreams.elts;

    for (i = 0; i < old->upstreams.nelts; i++) {
        if (ou[i]->pool != NULL
            && ou[i]->upstream->host.len == lscf->upstream->host.len
            && ngx_strncmp(ou[i]->upstream->host.data,
                           lscf->upstream->host.data,
                           lscf->upstream->host.len) == 0)
        {
            return ou[i];
        }
    }

    return NULL;
}


/*
 * Copies each surviving peer's state from the previous cycle's pools: health,
 * counters, latency and the last check record.  Returns how many peers kept
 * their state.
 */
static ngx_uint_t
ngx_http_upstream_lbkit_copy_previous(ngx_cycle_t *cycle,
    ngx_http_upstream_lbkit_main_conf_t *lmcf,
    ngx_http_upstream_lbkit_main_conf_t *old)
{
    char                                  name[LBK_NAME_MAX];
    uint32_t                              old_id;
    ngx_uint_t                            i, k, kept;
    ngx_http_upstream_lbkit_srv_conf_t  **nu, *ncf, *ocf;
    ngx_http_upstream_lbkit_check_peer_t *src, *dst;

    kept = 0;
    nu = lmcf->upstreams.elts;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        ncf = nu[i];
        ocf = ngx_http_upstream_lbkit_zone_previous_upstream(old, ncf);

        if (ocf == NULL) {
            continue;
        }

        for (k = 0; k < ncf->npeers; k++) {
            if (ncf->peers[k].name.len >= LBK_NAME_MAX) {
                continue;
            }

            ngx_memcpy(name, ncf->peers[k].name.data, ncf->peers[k].name.len);
            name[ncf->peers[k].name.len] = '\0';

            if (lbk_pool_find(&old_id, ocf->pool, name) != 0) {
                continue;   /* a new server: starts in the initial state */
            }

            if (lbk_pool_peer_state_copy(ncf->pool, ncf->peers[k].id,
                                         ocf->pool, old_id)
                != 0)
            {
                ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                              "lbkit: upstream \"%V\" server \"%V\": state "
                              "not kept across reload: %s",
                              &ncf->upstream->host, &ncf->peers[k].name,
                              lbk_error_last());
                continue;
            }

            if (old_id < ocf->npeers) {
                src = &ocf->check_peers[old_id];
                dst = &ncf->check_peers[ncf->peers[k].id];

                dst->time_ms = src->time_ms;
                dst->duration_us = src->duration_us;
                dst->outcome = src->outcome;
                dst->http_status = src->http_status;
                dst->checks = src->checks;
                dst->next_check = src->next_check;
                ngx_memcpy(dst->reason, src->reason, LBK_REASON_MAX);
                dst->reason[LBK_REASON_MAX - 1] = '\0';
            }

            kept++;
        }
    }

    return kept;
}


static ngx_int_t
ngx_http_upstream_lbkit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_uint_t                             i, total, kept;
    ngx_cycle_t                           *cycle;
    ngx_slab_pool_t                       *shpool;
    ngx_http_upstream_lbkit_srv_conf_t   **lscfp;
    ngx_http_upstream_lbkit_main_conf_t   *lmcf, *old;

    /* @data is always NULL: the zone never takes over an old one's memory
       (noreuse, alternating names); the old state comes via lmcf->previous */
    (void) data;

    lmcf = shm_zone->data;
    cycle = lmcf->cycle;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    lscfp = lmcf->upstreams.elts;
    total = 0;

    for (i = 0; i < lmcf->upstreams.nelts; i++) {
        if (ngx_http_upstream_lbkit_place(cycle, shpool, lscfp[i]) != NGX_OK) {
            ngx_shmtx_unlock(&shpool->mutex);
            return NGX_ERROR;
        }

        total += lbk_pool_count(lscfp[i]->pool);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    old = lmcf->previous;

    if (old != NULL && old->shm_zone != NULL) {
        kept = ngx_http_upstream_lbkit_copy_previous(cycle, lmcf, old);

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "lbkit: kept the state of %ui of %ui servers across "
                      "reload", kept, total);
    }

    /* servers the API added, changed or deleted (previous cycle or
       lbkit_state file) */
    return ngx_http_upstream_lbkit_api_restore(cycle, lmcf,
                                  (old && old->shm_zone) ? old : NULL);
}

/*
 * watch_config.c - struct config -> struct watcher_config (see
 * watch_config.h).
 */
#include "relayer/watch_config.h"

#include <stdio.h>
#include <string.h>

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

int watch_config_from(const struct config *cfg, size_t chain, struct watcher_config *out,
                      struct mr_error *err)
{
    const struct config_chain *ch;

    if (chain >= cfg->n_chains)
        return mr_fail(err, MR_ERR_INVALID, "%s: no chain %zu", cfg->path, chain);
    ch = &cfg->chains[chain];
    memset(out, 0, sizeof(*out));
    snprintf(out->chain_key, sizeof(out->chain_key), "%s", ch->key);
    out->chain_id = ch->chain_id;
    for (size_t i = 0; i < ch->n_endpoints && i < WATCHER_MAX_ENDPOINTS; i++)
        snprintf(out->endpoints[out->n_endpoints++], WATCHER_URL_LEN, "%s", ch->endpoints[i]);
    snprintf(out->database_url, sizeof(out->database_url), "%s", cfg->database_url);
    out->use_finalized_tag = ch->use_finalized_tag;
    out->confirmations = ch->confirmations;
    out->poll_interval_ms = ch->poll_interval_ms;
    snprintf(out->ws_url, sizeof(out->ws_url), "%s", ch->ws);
    out->start_block = ch->start_block;
    for (size_t g = 0; g < cfg->n_gateways && out->n_pairs < WATCHER_MAX_PAIRS; g++) {
        const struct config_gateway *gw = &cfg->gateways[g];
        const struct config_gateway_side *here, *there;
        struct watcher_pair *p;
        if ((size_t)gw->origin.chain == chain) {
            here = &gw->origin;
            there = &gw->auxiliary;
        } else if ((size_t)gw->auxiliary.chain == chain) {
            here = &gw->auxiliary;
            there = &gw->origin;
        } else {
            continue;
        }
        p = &out->pairs[out->n_pairs++];
        snprintf(p->name, sizeof(p->name), "%s", gw->name);
        p->is_origin = here == &gw->origin;
        memcpy(p->gateway, here->gateway, 20);
        memcpy(p->remote_gateway, there->gateway, 20);
        p->has_anchor = !is_zero(here->anchor, 20);
        memcpy(p->anchor, here->anchor, 20);
        snprintf(p->remote_chain, sizeof(p->remote_chain), "%s", cfg->chains[there->chain].key);
    }
    if (out->n_pairs == 0)
        return mr_fail(err, MR_ERR_NOTFOUND, "%s: no gateway pair has a side on chain %s",
                       cfg->path, ch->key);
    return MR_OK;
}

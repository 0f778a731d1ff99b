#include "workflow/search/strategy.h"

#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/status.h"
#include "workflow/workflow.h"

static const char *const known_keys[] = {"execution_order",
                                         "sampler",
                                         "max_samples",
                                         "seed",
                                         "stop_when_goals_met",
                                         "max_iter",
                                         "max_time",
                                         "search_algorithm",
                                         "search_algorithm_config",
                                         "include_pass_params",
                                         NULL};

static int positive_count(size_t *out, const json_t *v, const char *key)
{
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return olive_fail(OLIVE_EINVALID, "search_strategy.%s: must be a whole number > 0", key);
    *out = (size_t)json_integer_value(v);
    return OLIVE_OK;
}

int ws_strategy_parse(ws_strategy *out, const json_t *v, int strict)
{
    ws_strategy s = {.enabled = 1, .sampler = WS_TPE, .seed = 1};
    const json_t *x, *cfg;
    const char *order, *sampler;
    if (!v || json_is_null(v) || json_is_false(v)) {
        memset(out, 0, sizeof *out);
        return OLIVE_OK;
    }
    if (json_is_true(v)) {
        *out = s;
        return OLIVE_OK;
    }
    if (!json_is_object(v))
        return olive_fail(OLIVE_EINVALID, "search_strategy: expected true, false or an object");
    OLIVE_TRY(wf_check_keys(v, known_keys, "search_strategy", strict));
    order = json_string_value(json_object_get(v, "execution_order"));
    if (json_object_get(v, "execution_order") && !json_is_null(json_object_get(v, "execution_order"))) {
        if (!order || (strcmp(order, "joint") && strcmp(order, "pass-by-pass")))
            return olive_fail(OLIVE_EINVALID, "search_strategy.execution_order: '%s' is not joint or pass-by-pass",
                              order ? order : "(not a string)");
        s.pass_by_pass = !strcmp(order, "pass-by-pass");
    }
    if ((x = json_object_get(v, "sampler")) && !json_is_null(x))
        OLIVE_TRY(ws_sampler_kind_parse(&s.sampler, json_string_value(x), "search_strategy.sampler"));
    if ((x = json_object_get(v, "search_algorithm")) && !json_is_null(x)) {
        sampler = json_string_value(x);
        if (sampler && !strcasecmp(sampler, "exhaustive"))
            sampler = "sequential";
        OLIVE_TRY(ws_sampler_kind_parse(&s.sampler, sampler, "search_strategy.search_algorithm"));
        OLIVE_INFO("search_strategy: search_algorithm '%s' is Olive's older form; read as sampler '%s'",
                   json_string_value(x), sampler);
    }
    OLIVE_TRY(positive_count(&s.max_samples, json_object_get(v, "max_samples"), "max_samples"));
    OLIVE_TRY(positive_count(&s.max_iter, json_object_get(v, "max_iter"), "max_iter"));
    if ((cfg = json_object_get(v, "search_algorithm_config")) && json_is_object(cfg)) {
        OLIVE_TRY(
            positive_count(&s.max_samples, json_object_get(cfg, "num_samples"), "search_algorithm_config.num_samples"));
        if ((x = json_object_get(cfg, "seed")) && !json_is_null(x)) {
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                return olive_fail(OLIVE_EINVALID,
                                  "search_strategy.search_algorithm_config.seed: must be a whole number >= 0");
            s.seed = (uint64_t)json_integer_value(x);
        }
        OLIVE_INFO("search_strategy: search_algorithm_config read as max_samples %zu, seed %llu", s.max_samples,
                   (unsigned long long)s.seed);
    }
    if ((x = json_object_get(v, "seed")) && !json_is_null(x)) {
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return olive_fail(OLIVE_EINVALID, "search_strategy.seed: must be a whole number >= 0");
        s.seed = (uint64_t)json_integer_value(x);
    }
    if ((x = json_object_get(v, "stop_when_goals_met")) && !json_is_null(x)) {
        if (!json_is_boolean(x))
            return olive_fail(OLIVE_EINVALID, "search_strategy.stop_when_goals_met: must be true or false");
        s.stop_when_goals_met = json_is_true(x);
    }
    if ((x = json_object_get(v, "max_time")) && !json_is_null(x)) {
        if (!json_is_number(x) || json_number_value(x) < 0)
            return olive_fail(OLIVE_EINVALID, "search_strategy.max_time: must be a number of seconds >= 0");
        s.max_time = json_number_value(x);
    }
    *out = s;
    return OLIVE_OK;
}

/* SPDX-License-Identifier: MIT
 *
 * check_sweep: the sweep's state machine, every transition and the ones
 * that must not happen, aging thresholds and the timer's alignment.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "conflict.h"
#include "sweep.h"
#include "testutil.h"

#define NOW ((time_t)1700000000)
#define HOUR 3600

static const unsigned long aging[] = {86400, 7 * 86400};
static const struct sweep_opts opts = {HOUR, 1800, aging, 2};

/* make() returns a conflict first seen an hour ago and seen now, of
 * property prop with value. */
static struct conflict *make(enum conflict_property prop, const char *value)
{
  struct conflict *c =
      conflict_new("contoso", "obj-1", CONFLICT_USER, prop, value);

  ck_assert_ptr_nonnull(c);
  c->first_seen = NOW - HOUR;
  c->last_seen = NOW;
  return c;
}

/* looked_up() gives c a complete lookup at t that found n (0 to 2)
 * holders. */
static void looked_up(struct conflict *c, size_t n, time_t t)
{
  struct conflict_holder h[2];

  ck_assert_uint_le(n, 2);
  memset(h, 0, sizeof(h));
  h[0].id = "holder-1";
  h[1].id = "holder-2";
  h[0].type = h[1].type = CONFLICT_USER;
  h[0].sync_enabled = h[1].sync_enabled = CONFLICT_TRI_UNKNOWN;
  ck_assert_int_eq(conflict_replace_holders(c, h, n), 0);
  c->looked_up = t;
}

START_TEST(test_never_looked_up_stays)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  /* No complete lookup (e.g. the first one failed): no transition, even
   * though no holder is stored. */
  c->lookup_error = strdup("Authorization_RequestDenied");
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  ck_assert_int_eq(c->freed_at, 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_active_held_stays)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 1, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  conflict_free(c);
}
END_TEST

START_TEST(test_active_not_held_frees)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 0, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_FREED);
  ck_assert_int_eq(c->state, CONFLICT_FREED);
  ck_assert_int_eq(c->freed_at, NOW);
  /* Released by the next service sweep: within one period. */
  ck_assert_int_eq(c->release_by, NOW + HOUR);
  ck_assert_int_eq(c->stuck_at, 0);
  /* Once only. */
  ck_assert_int_eq(sweep_assess(c, NOW + 60, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->freed_at, NOW);
  conflict_free(c);
}
END_TEST

/* A failed lookup leaves the last complete pairing in place (see
 * holder_apply()), so a freed conflict stays freed and an active one
 * active whatever the failure. */
START_TEST(test_failed_lookup_changes_nothing)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 1, NOW - 60);
  c->lookup_error = strdup("serviceNotAvailable");
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  conflict_free(c);
}
END_TEST

START_TEST(test_freed_held_again)
{
  struct conflict *c = make(CONFLICT_PROXY, "SMTP:sales@contoso.com");

  looked_up(c, 0, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_FREED);
  looked_up(c, 1, NOW + 600);
  ck_assert_int_eq(sweep_assess(c, NOW + 600, &opts), SWEEP_HELD);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  ck_assert_int_eq(c->freed_at, 0);
  ck_assert_int_eq(c->release_by, 0);
  /* Freed again later: a new freed time and prediction. */
  looked_up(c, 0, NOW + 1200);
  ck_assert_int_eq(sweep_assess(c, NOW + 1200, &opts), SWEEP_FREED);
  ck_assert_int_eq(c->freed_at, NOW + 1200);
  ck_assert_int_eq(c->release_by, NOW + 1200 + HOUR);
  conflict_free(c);
}
END_TEST

START_TEST(test_freed_not_stuck_before_deadline)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 0, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_FREED);
  /* Still listed one second before release + grace: not yet. */
  c->last_seen = NOW + HOUR + 1800 - 1;
  ck_assert_int_eq(sweep_assess(c, NOW + 2 * HOUR, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->state, CONFLICT_FREED);
  conflict_free(c);
}
END_TEST

START_TEST(test_freed_stuck_when_seen_after_deadline)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 0, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &opts), SWEEP_FREED);
  /* A sweep long after the deadline, but the last complete inventory that
   * listed it is older: no data says it is still quarantined. */
  c->last_seen = NOW + 60;
  ck_assert_int_eq(sweep_assess(c, NOW + 3 * HOUR, &opts), SWEEP_NONE);
  /* An inventory started at the deadline still lists it: stuck. */
  c->last_seen = NOW + HOUR + 1800;
  ck_assert_int_eq(sweep_assess(c, NOW + HOUR + 1801, &opts), SWEEP_STUCK);
  ck_assert_int_eq(c->state, CONFLICT_STUCK);
  ck_assert_int_eq(c->stuck_at, NOW + HOUR + 1801);
  ck_assert_int_eq(c->freed_at, NOW);
  /* Once only. */
  c->last_seen = NOW + 3 * HOUR;
  ck_assert_int_eq(sweep_assess(c, NOW + 3 * HOUR, &opts), SWEEP_NONE);
  ck_assert_int_eq(c->stuck_at, NOW + HOUR + 1801);
  /* Held again: active, the record cleared. */
  looked_up(c, 2, NOW + 4 * HOUR);
  ck_assert_int_eq(sweep_assess(c, NOW + 4 * HOUR, &opts), SWEEP_HELD);
  ck_assert_int_eq(c->state, CONFLICT_ACTIVE);
  ck_assert_int_eq(c->stuck_at, 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_zero_grace)
{
  const struct sweep_opts o = {2, 0, NULL, 0};
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  looked_up(c, 0, NOW);
  ck_assert_int_eq(sweep_assess(c, NOW, &o), SWEEP_FREED);
  c->last_seen = NOW + 2;
  ck_assert_int_eq(sweep_assess(c, NOW + 2, &o), SWEEP_STUCK);
  conflict_free(c);
}
END_TEST

START_TEST(test_gone)
{
  ck_assert_int_eq(sweep_gone(true), SWEEP_RELEASED);
  ck_assert_int_eq(sweep_gone(false), SWEEP_CLEARED);
}
END_TEST

START_TEST(test_carries_upn)
{
  struct conflict *c = make(CONFLICT_UPN, "John@Contoso.com");
  const char *proxies[] = {"SMTP:john@contoso.com"};

  ck_assert(sweep_carries(c, "john@contoso.com", NULL, 0));
  ck_assert(sweep_carries(c, "JOHN@CONTOSO.COM", NULL, 0));
  /* Still the placeholder: not released, whatever the proxies say. */
  ck_assert(!sweep_carries(c, "john1234@contoso.onmicrosoft.com", proxies, 1));
  ck_assert(!sweep_carries(c, NULL, proxies, 1));
  conflict_free(c);
}
END_TEST

START_TEST(test_carries_proxy)
{
  struct conflict *c = make(CONFLICT_PROXY, "smtp:Sales@contoso.com");
  const char *yes[] = {"SMTP:bob@contoso.com", "smtp:sales@CONTOSO.com"};
  const char *primary[] = {"SMTP:sales@contoso.com"};
  const char *other[] = {"X500:/o=sales@contoso.com", "SIP:sales@contoso.com",
                         "sales@contoso.com", NULL};

  ck_assert(sweep_carries(c, NULL, yes, 2));
  ck_assert(sweep_carries(c, "bob@contoso.com", primary, 1));
  /* Not an SMTP address, or no prefix at all: not the value. */
  ck_assert(!sweep_carries(c, NULL, other, 4));
  ck_assert(!sweep_carries(c, NULL, NULL, 0));
  /* A UPN equal to the address is not the proxy address. */
  ck_assert(!sweep_carries(c, "sales@contoso.com", NULL, 0));
  conflict_free(c);
}
END_TEST

START_TEST(test_time_to_release)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  /* Never seen freed: since first seen. */
  ck_assert_int_eq(sweep_time_to_release(c, NOW), HOUR);
  c->freed_at = NOW - 1500;
  ck_assert_int_eq(sweep_time_to_release(c, NOW), 1500);
  /* A clock that went backwards gives 0, never a negative time. */
  ck_assert_int_eq(sweep_time_to_release(c, NOW - 3000), 0);
  c->freed_at = 0;
  c->first_seen = 0;
  ck_assert_int_eq(sweep_time_to_release(c, NOW), 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_age)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  ck_assert_int_eq(sweep_age(c, NOW), HOUR);
  c->occurred = NOW - 86400;
  ck_assert_int_eq(sweep_age(c, NOW), 86400);
  c->occurred = NOW + 5; /* the service's clock ahead of ours */
  ck_assert_int_eq(sweep_age(c, NOW), 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_aging_once_per_threshold)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  c->occurred = NOW;
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 86399, &opts), 0);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 86400, &opts), 86400);
  ck_assert_uint_eq(c->aging_done, 86400);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 86401, &opts), 0);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 3 * 86400, &opts), 0);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 7 * 86400, &opts), 7 * 86400);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 70 * 86400, &opts), 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_aging_together_and_restart)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");

  /* Both passed since the last look (daemon down for a week): one alert,
   * for the larger. */
  c->occurred = NOW;
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 8 * 86400, &opts), 7 * 86400);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 8 * 86400, &opts), 0);
  /* aging_done is saved: a restart (same record) alerts nothing again. */
  c->aging_done = 86400;
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 2 * 86400, &opts), 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_aging_skip_at_detection)
{
  struct conflict *c = make(CONFLICT_UPN, "john@contoso.com");
  const struct sweep_opts none = {HOUR, 0, NULL, 0};

  c->occurred = NOW - 2 * 86400; /* first seen two days after it arose */
  sweep_aging_skip(c, NOW, &opts);
  ck_assert_uint_eq(c->aging_done, 86400);
  ck_assert_uint_eq(sweep_aging_due(c, NOW, &opts), 0);
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 5 * 86400, &opts), 7 * 86400);
  /* No thresholds: never due. */
  c->aging_done = 0;
  ck_assert_uint_eq(sweep_aging_due(c, NOW + 50 * 86400, &none), 0);
  sweep_aging_skip(c, NOW + 50 * 86400, &none);
  ck_assert_uint_eq(c->aging_done, 0);
  conflict_free(c);
}
END_TEST

START_TEST(test_carry)
{
  struct conflict *a = make(CONFLICT_UPN, "john@contoso.com");
  struct conflict *b = make(CONFLICT_UPN, "john@contoso.com");

  a->state = CONFLICT_STUCK;
  a->freed_at = NOW - 10;
  a->release_by = NOW + 20;
  a->stuck_at = NOW + 30;
  a->aging_done = 40;
  sweep_carry(b, a);
  ck_assert_int_eq(b->state, CONFLICT_STUCK);
  ck_assert_int_eq(b->freed_at, NOW - 10);
  ck_assert_int_eq(b->release_by, NOW + 20);
  ck_assert_int_eq(b->stuck_at, NOW + 30);
  ck_assert_uint_eq(b->aging_done, 40);
  conflict_free(a);
  conflict_free(b);
}
END_TEST

START_TEST(test_next_delay)
{
  /* 10:00:00.000 UTC, hourly: one minute past 11:00 plus jitter below
   * five minutes. */
  const uint64_t ten = (uint64_t)NOW / 3600 * 3600 * 1000;

  ck_assert_uint_eq(sweep_next_delay_ms(ten, HOUR, 0), 3600000 + 60000);
  ck_assert_uint_eq(sweep_next_delay_ms(ten + 1800000, HOUR, 0),
                    1800000 + 60000);
  ck_assert_uint_eq(sweep_next_delay_ms(ten, HOUR, 299999),
                    3600000 + 60000 + 299999);
  ck_assert_uint_eq(sweep_next_delay_ms(ten, HOUR, 300000), 3600000 + 60000);
  /* Just before the boundary: the boundary about to come. */
  ck_assert_uint_eq(sweep_next_delay_ms(ten + 3599999, HOUR, 0), 1 + 60000);
  /* Two seconds: next even second plus 33 ms, jitter below 166 ms. */
  ck_assert_uint_eq(sweep_next_delay_ms(1000500, 2, 0), 1500 + 33);
  ck_assert_uint_lt(sweep_next_delay_ms(1000500, 2, 0xffffffffu),
                    1500 + 33 + 166);
  /* One second (the smallest): never zero. */
  ck_assert_uint_gt(sweep_next_delay_ms(2000000, 1, 12345), 0);
}
END_TEST

START_TEST(test_names)
{
  ck_assert_str_eq(sweep_change_name(SWEEP_FREED), "freed");
  ck_assert_str_eq(sweep_change_name(SWEEP_HELD), "held");
  ck_assert_str_eq(sweep_change_name(SWEEP_STUCK), "stuck");
  ck_assert_str_eq(sweep_change_name(SWEEP_RELEASED), "released");
  ck_assert_str_eq(sweep_change_name(SWEEP_CLEARED), "cleared");
  ck_assert_str_eq(sweep_change_name((enum sweep_change)42), "unknown");
}
END_TEST

Suite *sweep_suite(void)
{
  Suite *s = suite_create("sweep");
  TCase *tc = tcase_create("machine");

  tcase_add_test(tc, test_never_looked_up_stays);
  tcase_add_test(tc, test_active_held_stays);
  tcase_add_test(tc, test_active_not_held_frees);
  tcase_add_test(tc, test_failed_lookup_changes_nothing);
  tcase_add_test(tc, test_freed_held_again);
  tcase_add_test(tc, test_freed_not_stuck_before_deadline);
  tcase_add_test(tc, test_freed_stuck_when_seen_after_deadline);
  tcase_add_test(tc, test_zero_grace);
  tcase_add_test(tc, test_gone);
  tcase_add_test(tc, test_carries_upn);
  tcase_add_test(tc, test_carries_proxy);
  tcase_add_test(tc, test_time_to_release);
  suite_add_tcase(s, tc);
  tc = tcase_create("aging");
  tcase_add_test(tc, test_age);
  tcase_add_test(tc, test_aging_once_per_threshold);
  tcase_add_test(tc, test_aging_together_and_restart);
  tcase_add_test(tc, test_aging_skip_at_detection);
  tcase_add_test(tc, test_carry);
  suite_add_tcase(s, tc);
  tc = tcase_create("timer");
  tcase_add_test(tc, test_next_delay);
  tcase_add_test(tc, test_names);
  suite_add_tcase(s, tc);
  return s;
}

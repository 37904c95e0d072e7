/* SPDX-License-Identifier: MIT
 *
 * sink_local: the two sinks on this machine.
 *
 * - syslog: one datagram per alert to the local syslog socket (socket,
 *   default /dev/log) with the header syslog(3) writes, "<PRI>Mmm dd
 *   hh:mm:ss quarantined[pid]: ".  syslog(3) itself is not used because
 *   it drops a message silently when nobody listens; a datagram that
 *   cannot be sent here keeps the alert in the spool, and the outage is
 *   logged.
 * - journal: native journald fields (MESSAGE, PRIORITY, a MESSAGE_ID per
 *   type for the catalog in systemd/quarantined.catalog, and QD_* fields,
 *   one per member of the alert) through sd_journal_sendv().  When the
 *   journal socket is absent (sd_journal_sendv() then returns success
 *   without sending anything) or refuses the entry, the alert goes to the
 *   syslog socket as above, as a JSON record; when both fail it stays in
 *   the spool.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "alert.h"
#include "log.h"
#include "sink.h"

/* Where journald listens for native entries (systemd-journald.socket). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct local_sink {
  struct sockaddr_un addr;
  int fd;            /* AF_UNIX datagram socket, or -1 until first needed */
  bool journal_down; /* logged once: using the syslog socket */
};

static int local_open(struct sink *s, const struct cfg_sink *c)
{
  struct local_sink *l = calloc(1, sizeof(*l));
  const char *path = c->socket ? c->socket : "/dev/log";

  if(!l)
    return -ENOMEM;
  if(strlen(path) >= sizeof(l->addr.sun_path)) {
    log_errx("sink %s: socket path %s is too long", s->name, path);
    free(l);
    return -ENAMETOOLONG;
  }
  l->addr.sun_family = AF_UNIX;
  memcpy(l->addr.sun_path, path, strlen(path) + 1);
  l->fd = -1;
  s->impl = l;
  if(s->type == &sink_local_syslog)
    s->fo.frame = FMT_FRAME_3164;
  return 0;
}

/* send_dgram() sends one datagram to the syslog socket.  Returns 0 or
 * -errno. */
static int send_dgram(struct local_sink *l, const char *p, size_t n)
{
  ssize_t w;

  if(l->fd < 0) {
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if(l->fd < 0)
      return -errno;
  }
  w = sendto(l->fd, p, n, MSG_NOSIGNAL, (struct sockaddr *)&l->addr,
             sizeof(l->addr));
  if(w < 0) {
    int rc = -errno;

    close(l->fd); /* a new socket next time: the listener may be new */
    l->fd = -1;
    return rc;
  }
  return 0;
}

static void syslog_deliver(struct sink *s, const struct spool_rec *r, size_t n)
{
  struct local_sink *l = s->impl;
  char why[200];
  size_t i;
  int rc = 0;

  for(i = 0; i < n && r && !rc; r = r->next) {
    rc = send_dgram(l, r->data, r->len);
    if(!rc)
      i++;
  }
  snprintf(why, sizeof(why), "%s: %s", l->addr.sun_path, strerror(-rc));
  sink_done(s, i, rc, rc ? why : NULL, 0);
}

#ifdef HAVE_LIBSYSTEMD
/* field_name() writes "QD_" and key in upper snake case ("objectId" ->
 * "QD_OBJECT_ID"), with the historic short names for a few. */
static void field_name(const char *key, char *buf, size_t len)
{
  static const struct {
    const char *key, *field;
  } renamed[] = {
      {"id", "QD_ALERT_ID"},
      {"userPrincipalName", "QD_UPN"},
      {"onPremisesImmutableId", "QD_IMMUTABLE_ID"},
      {"onPremisesDistinguishedName", "QD_ONPREM_DN"},
      {"onPremisesSamAccountName", "QD_SAM_ACCOUNT"},
      {"timeToReleaseSeconds", "QD_TIME_TO_RELEASE"},
      {"ageSeconds", "QD_AGE"},
      {"thresholdSeconds", "QD_THRESHOLD"},
  };
  size_t i, pos;

  for(i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
    if(!strcmp(key, renamed[i].key)) {
      snprintf(buf, len, "%s", renamed[i].field);
      return;
    }
  pos = (size_t)snprintf(buf, len, "QD_");
  for(; *key && pos + 2 < len; key++) {
    if(isupper((unsigned char)*key) && pos > 3)
      buf[pos++] = '_';
    buf[pos++] = (char)toupper((unsigned char)*key);
  }
  buf[pos] = '\0';
}

/* to_journal() sends one alert record (the JSON object) as a journal
 * entry.  Returns 0 or a negative errno code. */
static int to_journal(const char *json)
{
  cJSON *ev = cJSON_Parse(json), *item;
  struct fmt_buf steps = {0};
  struct iovec iov[96];
  char *bufs[96];
  size_t n = 0, i;
  int rc = 0;

  if(!ev)
    return -ENOMEM;
#define ADD(...)                                                               \
  do {                                                                         \
    if(n < 96 && asprintf(&bufs[n], __VA_ARGS__) >= 0) {                       \
      iov[n].iov_base = bufs[n];                                               \
      iov[n].iov_len = strlen(bufs[n]);                                        \
      n++;                                                                     \
    }                                                                          \
  } while(0)
  ADD("MESSAGE=%s", fmt_str(ev, "message") ? fmt_str(ev, "message") : "");
  ADD("PRIORITY=%d", fmt_syslog_severity(ev));
  ADD("SYSLOG_IDENTIFIER=quarantined");
  ADD("MESSAGE_ID=%s", alert_message_id(alert_type_parse(
                           fmt_str(ev, "event") ? fmt_str(ev, "event") : "")));
  cJSON_ArrayForEach(item, ev)
  {
    char name[64], num[32];
    const char *v = fmt_scalar(item, num, sizeof(num));

    if(!v || !strcmp(item->string, "message"))
      continue;
    field_name(item->string, name, sizeof(name));
    ADD("%s=%s", name, v);
  }
  if(fmt_steps(ev, &steps))
    ADD("QD_REMEDIATION=%s", steps.p);
#undef ADD
  free(steps.p);
  rc = sd_journal_sendv(iov, (int)n);
  for(i = 0; i < n; i++)
    free(bufs[i]);
  cJSON_Delete(ev);
  return rc;
}
#endif

/* fallback() sends the JSON record to the syslog socket with the header
 * syslog(3) would write. */
static int fallback(struct sink *s, const char *json)
{
  struct local_sink *l = s->impl;
  cJSON *ev = cJSON_Parse(json);
  struct fmt_buf b = {0};
  struct fmt_opts o = s->fo;
  int rc;

  if(!ev)
    return -ENOMEM;
  o.frame = FMT_FRAME_3164;
  rc = fmt_render(FMT_JSON, ev, &o, &b);
  cJSON_Delete(ev);
  if(!rc)
    rc = send_dgram(l, b.p, b.len);
  free(b.p);
  return rc;
}

static void journal_deliver(struct sink *s, const struct spool_rec *r, size_t n)
{
  struct local_sink *l = s->impl;
  char why[200];
  size_t i;
  int rc = 0;

  for(i = 0; i < n && r && !rc; r = r->next) {
#ifdef HAVE_LIBSYSTEMD
    /* sd_journal_sendv() returns 0 when the journal socket does not
     * exist (it "fails silently"), so look for it first. */
    int jrc = access(JOURNAL_SOCKET, W_OK) < 0 ? -errno : to_journal(r->data);

    if(!jrc) {
      if(l->journal_down)
        log_notice("sink %s: journald takes alerts again", s->name);
      l->journal_down = false;
      i++;
      continue;
    }
    if(!l->journal_down)
      log_warnx("sink %s: journald: %s; sending alerts to %s instead", s->name,
                strerror(-jrc), l->addr.sun_path);
    l->journal_down = true;
#endif
    rc = fallback(s, r->data);
    if(!rc)
      i++;
  }
  snprintf(why, sizeof(why), "journald and %s: %s", l->addr.sun_path,
           strerror(-rc));
  sink_done(s, i, rc, rc ? why : NULL, 0);
}

static void local_close(struct sink *s)
{
  struct local_sink *l = s->impl;

  if(l->fd >= 0)
    close(l->fd);
  free(l);
  sink_type_closed(s);
}

const struct sink_type sink_local_syslog = {
    .default_format = FMT_JSON,
    .max_batch = 256,
    .open = local_open,
    .deliver = syslog_deliver,
    .close = local_close,
};

const struct sink_type sink_local_journal = {
    .default_format = FMT_JSON,
    .max_batch = 256,
    .open = local_open,
    .deliver = journal_deliver,
    .close = local_close,
};

/* SPDX-License-Identifier: MIT
 *
 * fuzz: what every libFuzzer target in tests/fuzz/ shares.  The daemon's
 * readers take a path, so fuzz_file() writes the input to a file of its
 * own private directory first; LLVMFuzzerInitialize() (fuzz.c) turns
 * the log off so that a run measures the parser, not syslog.
 */
#ifndef QD_FUZZ_H
#define QD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "../../daemon/anchors.h"

/* libFuzzer's entry points: every target defines the second; fuzz.c
 * defines the first for all of them (it turns the log off). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_dir() returns the private directory (made on first call, removed
 * at exit); the string is static. */
const char *fuzz_dir(void);

/* fuzz_file() writes size bytes of data to fuzz_dir()/name, replacing the
 * file, and returns its path (static, valid until the next call).  It
 * aborts on an I/O error: a harness that cannot write is broken. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);

/* fuzz_clean() removes every file in fuzz_dir() (readers that rename a
 * corrupt file aside leave copies behind). */
void fuzz_clean(void);

/* fuzz_cstr() returns a malloc'd NUL-terminated copy of data (the caller
 * frees it); aborts when out of memory. */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* fuzz_ignore_report() is an anchors_report_cb that drops the report:
 * the fuzzer wants reports made, not read. */
void fuzz_ignore_report(void *arg, enum anchors_level level, const char *file,
                        unsigned line, const char *msg);

#endif

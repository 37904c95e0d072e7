/* SPDX-License-Identifier: MIT
 *
 * sys/queue.h for the Windows build, which mingw-w64 does not ship: the
 * LIST and TAILQ macros the daemon uses, with the BSD definitions'
 * meaning.
 */
#ifndef QD_WIN32_SYS_QUEUE_H
#define QD_WIN32_SYS_QUEUE_H

#include <stddef.h>

#define LIST_HEAD(name, type)                                                  \
  struct name {                                                                \
    struct type *lh_first;                                                     \
  }
#define LIST_ENTRY(type)                                                       \
  struct {                                                                     \
    struct type *le_next;                                                      \
    struct type **le_prev;                                                     \
  }
#define LIST_INIT(head) ((head)->lh_first = NULL)
#define LIST_EMPTY(head) ((head)->lh_first == NULL)
#define LIST_FIRST(head) ((head)->lh_first)
#define LIST_INSERT_HEAD(head, elm, field)                                     \
  do {                                                                         \
    if(((elm)->field.le_next = (head)->lh_first) != NULL)                      \
      (head)->lh_first->field.le_prev = &(elm)->field.le_next;                 \
    (head)->lh_first = (elm);                                                  \
    (elm)->field.le_prev = &(head)->lh_first;                                  \
  } while(0)
#define LIST_REMOVE(elm, field)                                                \
  do {                                                                         \
    if((elm)->field.le_next != NULL)                                           \
      (elm)->field.le_next->field.le_prev = (elm)->field.le_prev;              \
    *(elm)->field.le_prev = (elm)->field.le_next;                              \
  } while(0)

#define TAILQ_HEAD(name, type)                                                 \
  struct name {                                                                \
    struct type *tqh_first;                                                    \
    struct type **tqh_last;                                                    \
  }
#define TAILQ_ENTRY(type)                                                      \
  struct {                                                                     \
    struct type *tqe_next;                                                     \
    struct type **tqe_prev;                                                    \
  }
#define TAILQ_HEAD_INITIALIZER(head) {NULL, &(head).tqh_first}
#define TAILQ_INIT(head)                                                       \
  do {                                                                         \
    (head)->tqh_first = NULL;                                                  \
    (head)->tqh_last = &(head)->tqh_first;                                     \
  } while(0)
#define TAILQ_EMPTY(head) ((head)->tqh_first == NULL)
#define TAILQ_FIRST(head) ((head)->tqh_first)
#define TAILQ_NEXT(elm, field) ((elm)->field.tqe_next)
#define TAILQ_INSERT_TAIL(head, elm, field)                                    \
  do {                                                                         \
    (elm)->field.tqe_next = NULL;                                              \
    (elm)->field.tqe_prev = (head)->tqh_last;                                  \
    *(head)->tqh_last = (elm);                                                 \
    (head)->tqh_last = &(elm)->field.tqe_next;                                 \
  } while(0)
#define TAILQ_REMOVE(head, elm, field)                                         \
  do {                                                                         \
    if((elm)->field.tqe_next != NULL)                                          \
      (elm)->field.tqe_next->field.tqe_prev = (elm)->field.tqe_prev;           \
    else                                                                       \
      (head)->tqh_last = (elm)->field.tqe_prev;                                \
    *(elm)->field.tqe_prev = (elm)->field.tqe_next;                            \
  } while(0)

#endif

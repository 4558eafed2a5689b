// Shutdown helpers for our CAF 0.17.6 io brokers (client_actor.cpp,
// transport.cpp), working around two gaps in caf::io that leak memory.
//
// 1. abstract_broker::cleanup closes the broker's sockets and then calls
//    local_actor::cleanup directly, skipping scheduled_actor::cleanup (checked
//    in the disassembly of libcaf_io.so.0.17.6), so a terminated broker's
//    mailbox is never closed or drained. Every message sent to it afterwards
//    (a timer it scheduled for itself, a linked peer's exit_msg, a late reply)
//    stays in that mailbox holding a strong reference to its sender. A timer
//    to itself makes the broker own itself; two linked brokers hold each other
//    through their exit messages. Neither is ever freed (LeakSanitizer
//    reported the client broker, transport brokers, scribes and mailbox
//    elements at exit). close_mailbox_at_exit does what CAF does for every
//    other actor: close the mailbox (later messages are dropped, requests
//    answered with an error) and drop what is queued.
//
// 2. The multiplexer applies socket registrations at the end of its poll
//    round and squashes an add followed by a removal of the same socket in one
//    round into nothing. A scribe's stream keeps a reference to its scribe
//    from the add until the multiplexer reports the removal, so a scribe
//    opened and closed in the same round (connect, then an exit in the same
//    mailbox batch) is never released. post_after_round lets a broker wait
//    for the end of the round before closing (see client_actor.cpp).
//
// Actor safety: call both from the broker itself (its init or handlers); the
// attached functor runs in the broker's own cleanup on the multiplexer thread.
#pragma once

#include <utility>

#include "caf/actor_cast.hpp"
#include "caf/io/abstract_broker.hpp"
#include "caf/io/network/multiplexer.hpp"
#include "caf/send.hpp"

namespace velocity {

// Closes and empties the broker's mailbox when it terminates (gap 1 above) by
// running the step that abstract_broker::cleanup skips. The functor runs from
// monitorable_actor::cleanup after the terminated and cleaned-up flags are set,
// so the local_actor::cleanup that scheduled_actor::cleanup chains to again
// does nothing twice: unregistering is guarded by the registered flag,
// monitorable_actor::cleanup returns at once, cancelling timeouts is
// idempotent. (Closing the mailbox from here with the inline fifo_inbox
// templates instead would compile CAF's queue code into our objects, where
// UBSan flags its sentinel-node downcasts.)
inline void close_mailbox_at_exit(caf::io::abstract_broker* self) {
  self->attach_functor([self](const caf::error& reason) {
    if (self->mailbox().closed()) return;
    self->caf::scheduled_actor::cleanup(caf::error{reason}, self->context());
  });
}

// Sends `message` to the broker itself once the multiplexer's current poll
// round has ended, i.e. after the socket registrations of this round applied.
template <class Message>
void post_after_round(caf::io::abstract_broker* self, Message message) {
  auto me = caf::actor_cast<caf::actor>(self);
  self->backend().post([me, message] { caf::anon_send(me, message); });
}

}  // namespace velocity

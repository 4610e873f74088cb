// local's answer to qmgr: the per-recipient results of Protocol/Delivery.swift, plus
// the addresses alias, .forward and :include: expansion handed back (Postfix's local
// resubmits those itself as a new message through cleanup; Postern's local tells qmgr
// instead). Each forwarded address is four attributes, grouped by position like the
// request's recipients:
//   rcpt_forward=ADDRESS                the new recipient
//   rcpt_forward_index=N                the rcpt_index of the recipient it came from
//   rcpt_forward_sender=SENDER          the envelope sender of the new message (an
//                                       owner- alias replaces the original one)
//   rcpt_forward_delivered_to=ADDRESS   the Delivered-To: header the new message must
//                                       start with ("" = none), which stops mail loops
// They never come with a `deferred` result (a deferred recipient is expanded again on
// the next attempt): qmgr must queue them (one new message per sender and
// Delivered-To:) before it marks their recipient done.

/// A recipient that expansion hands back to qmgr.
public struct ForwardedRecipient: Equatable {
    /// The rcpt_index of the request recipient whose expansion produced it.
    public var index: Int
    public var address: String
    public var sender: String
    /// The value for the new message's Delivered-To: header; "" for none.
    public var deliveredTo: String

    public init(index: Int, address: String, sender: String, deliveredTo: String) {
        self.index = index
        self.address = address
        self.sender = sender
        self.deliveredTo = deliveredTo
    }
}

/// The reply attributes of local, and their reading on qmgr's side.
public enum LocalReply {
    /// The reply attributes: DeliveryReply's results, then the forwarded recipients.
    public static func attributes(_ results: [DeliveryResult], forwards: [ForwardedRecipient]) -> AttributeList {
        var list = DeliveryReply.attributes(results)
        for forward in forwards {
            list.append("rcpt_forward", forward.address)
            list.append("rcpt_forward_index", String(forward.index))
            list.append("rcpt_forward_sender", forward.sender)
            list.append("rcpt_forward_delivered_to", forward.deliveredTo)
        }
        return list
    }

    /// The forwarded recipients of a reply, as qmgr reads them; nil when the
    /// attributes do not line up.
    public static func forwards(_ list: AttributeList) -> [ForwardedRecipient]? {
        let addresses = list.all("rcpt_forward")
        let indexes = list.all("rcpt_forward_index").compactMap(Int.init)
        let senders = list.all("rcpt_forward_sender")
        let delivered = list.all("rcpt_forward_delivered_to")
        guard [indexes.count, senders.count, delivered.count].allSatisfy({ $0 == addresses.count }) else { return nil }
        return addresses.indices.map {
            ForwardedRecipient(index: indexes[$0], address: addresses[$0], sender: senders[$0], deliveredTo: delivered[$0])
        }
    }
}

// The Received: header the receiving program puts at the top of the content, in
// Postfix's exact forms: smtpd's (smtpd.c, observed 3.7) and pickup's (pickup.c). The
// parenthesised word is mail_name. Lines are joined with LF; cleanup feeds them in as
// the message's first header, so they count for hopcount_limit and header_size_limit.

/// Builders of the Received: header.
public enum ReceivedHeader {
    /// smtpd's header:
    /// ```
    /// Received: from HELO (NAME [ADDR])
    ///         by MYHOSTNAME (MAILNAME) with PROTOCOL id QUEUEID;
    ///         DATE
    /// ```
    /// or, with exactly one RECIPIENT, `…id QUEUEID` / `\tfor <RECIPIENT>; DATE`.
    /// HELO falls back to the client name when the client sent none; an IPv6 ADDRESS gets
    /// the `IPv6:` prefix. COMMENTLINES (the TLS summary, smtpd builds it) follow the first
    /// line, each on its own tab-indented line, then `(Authenticated sender: USER)` when
    /// AUTHENTICATEDSENDER is given (smtpd_sasl_authenticated_header).
    public static func smtp(heloName: String?, clientName: String, clientAddress: String, protocolName: String,
                            myhostname: String, mailName: String, queueID: String, recipient: String?, time: Int,
                            commentLines: [String] = [], authenticatedSender: String? = nil) -> String {
        var header: [UInt8] = []
        header.reserveCapacity(256)
        func add(_ text: String) { header.append(contentsOf: text.utf8) }
        add("Received: from ")
        add(heloName ?? clientName)
        add(" (")
        add(clientName)
        add(" [")
        if clientAddress.utf8.contains(UInt8(ascii: ":")) && !clientAddress.hasPrefix("IPv6:") { add("IPv6:") }
        add(clientAddress)
        add("])")
        for line in commentLines {
            add("\n\t")
            add(line)
        }
        if let user = authenticatedSender {
            add("\n\t(Authenticated sender: ")
            add(RFC822Quoting.commentText(user))
            add(")")
        }
        add("\n\tby ")
        add(myhostname)
        add(" (")
        add(mailName)
        add(") with ")
        add(protocolName)
        add(" id ")
        add(queueID)
        if let recipient {
            add("\n\tfor <")
            add(RFC822Quoting.quoteLocalPart(recipient))
            add(">; ")
        } else {
            add(";\n\t")
        }
        add(MailDate.rfc2822(time))
        return String(decoding: header, as: UTF8.self)
    }

    /// pickup's header for mail submitted with sendmail/postdrop by user UID:
    /// `Received: by MYHOSTNAME (MAILNAME, from userid UID)` / `\tid QUEUEID; DATE`, TIME
    /// being the maildrop file's modification time.
    public static func pickup(myhostname: String, mailName: String, uid: Int, queueID: String, time: Int) -> String {
        "Received: by \(myhostname) (\(mailName), from userid \(uid))\n\tid \(queueID); \(MailDate.rfc2822(time))"
    }
}

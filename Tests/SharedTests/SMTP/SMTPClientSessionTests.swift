// The SMTP client's protocol engine without sockets: a scripted server answers each
// `.receive` step, and the test checks what the client sent (and where it waited for
// replies, shown as `|`) and what became of each recipient.
import XCTest

@testable import Shared

final class SMTPClientSessionTests: XCTestCase {
    static let ehlo = ["250-mx.example.net", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME", "250-DSN", "250 SMTPUTF8"]

    func settings(_ change: (inout SMTPClientSettings) -> Void = { _ in }) -> SMTPClientSettings {
        var s = SMTPClientSettings(heloName: "client.example.org", myHostname: "client.example.org")
        change(&s)
        return s
    }

    func message(_ recipients: [String], size: Int = 100) -> SMTPTransaction {
        SMTPTransaction(sender: "alice@example.org", recipients: recipients.map { SMTPTransactionRecipient(address: $0) }, size: size)
    }

    /// Runs SESSION until it is idle or closes; REPLIES answer the receives in order (a
    /// reply's lines separated by `\n`). The transcript: sent lines, `|` at each wait,
    /// `<content>` for the message, `<tls>` for a handshake, and `<close>`.
    @discardableResult
    func run(_ session: SMTPClientSession, _ replies: inout [String]) -> [String] {
        var transcript: [String] = []
        while true {
            switch session.nextStep() {
            case .send(let line, _):
                transcript.append(line)
            case .receive(let stage):
                transcript.append("|")
                guard !replies.isEmpty else {
                    session.connectionFailed(at: stage, timedOut: true)
                    continue
                }
                var reader = SMTPClientReplyReader()
                var reply: SMTPClientReply?
                for line in replies.removeFirst().split(separator: "\n", omittingEmptySubsequences: false) {
                    reply = reader.feed(String(line))
                }
                session.receive(reply!)
            case .sendContent:
                transcript.append("<content>")
            case .startTLS:
                transcript.append("<tls>")
                session.tlsStarted()
            case .idle:
                return transcript
            case .close:
                transcript.append("<close>")
                return transcript
            }
        }
    }

    func connect(_ s: SMTPClientSettings? = nil, ehlo: [String] = SMTPClientSessionTests.ehlo) -> SMTPClientSession {
        let session = SMTPClientSession(settings: s ?? settings(), host: "mx.example.net", address: "192.0.2.25")
        var replies = ["220 mx.example.net ESMTP", ehlo.joined(separator: "\n")]
        XCTAssertEqual(run(session, &replies), ["|", "EHLO client.example.org", "|"])
        XCTAssertTrue(session.ready)
        return session
    }

    func failure(_ outcome: SMTPRecipientOutcome?) -> SMTPFailure? {
        if case .failed(let f) = outcome { return f }
        return nil
    }

    // MARK: transactions

    func testPipelinedTransactionSendsTheEnvelopeInOneGroup() {
        let session = connect()
        XCTAssertEqual(session.features.sizeLimit, 10_240_000)
        XCTAssertTrue(session.features.pipelining && session.features.dsn && session.features.smtputf8)
        session.begin(message(["bob@example.net", "carol@example.net"], size: 321))
        var replies = ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 4Xy"]
        XCTAssertEqual(run(session, &replies), [
            "MAIL FROM:<alice@example.org> SIZE=321", "RCPT TO:<bob@example.net>", "RCPT TO:<carol@example.net>", "DATA",
            "|", "|", "|", "|", "<content>", "|",
        ])
        XCTAssertEqual(session.outcomes, [.delivered(SMTPClientReply("250 2.0.0 Ok: queued as 4Xy")),
                                          .delivered(SMTPClientReply("250 2.0.0 Ok: queued as 4Xy"))])
        XCTAssertTrue(session.ready && session.reusable)
        session.quit()
        var none: [String] = []
        XCTAssertEqual(run(session, &none), ["QUIT", "<close>"], "smtp_skip_quit_response: QUIT's reply is not awaited")
    }

    func testWithoutPipeliningEachCommandWaits() {
        let session = connect(ehlo: ["250-mx.example.net", "250 8BITMIME"])
        session.begin(message(["bob@example.net"]))
        var replies = ["250 Ok", "250 Ok", "354 go", "250 Ok"]
        XCTAssertEqual(run(session, &replies), ["MAIL FROM:<alice@example.org>", "|", "RCPT TO:<bob@example.net>", "|", "DATA", "|", "<content>", "|"])
        XCTAssertEqual(session.outcomes, [.delivered(SMTPClientReply("250 Ok"))])
    }

    func testPipelinedGroupsStayWithinTheBuffer() {
        let session = connect(settings { $0.pipeliningBufferSize = 100 })
        session.begin(message(["a-long-recipient-name-1@example.net", "a-long-recipient-name-2@example.net", "a-long-recipient-name-3@example.net"]))
        var replies = ["250 Ok", "250 Ok", "250 Ok", "250 Ok", "354 go", "250 Ok"]
        let transcript = run(session, &replies)
        XCTAssertEqual(transcript.filter { $0 != "|" }.count, 6)
        XCTAssertEqual(transcript.prefix(4), ["MAIL FROM:<alice@example.org> SIZE=100", "RCPT TO:<a-long-recipient-name-1@example.net>", "|", "|"],
                       "a command that would overflow the buffer waits for the replies sent ahead")
    }

    func testRefusedRecipientFailsAloneWithTheRemoteText() {
        let session = connect()
        session.begin(message(["bob@example.net", "nobody@example.net"]))
        var replies = ["250 2.1.0 Ok", "250 2.1.5 Ok", "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown", "354 go", "250 2.0.0 Ok"]
        run(session, &replies)
        XCTAssertEqual(session.outcomes[0], .delivered(SMTPClientReply("250 2.0.0 Ok")))
        let f = failure(session.outcomes[1])
        XCTAssertEqual(f?.dsn, "5.1.1")
        XCTAssertEqual(f?.reason, "host mx.example.net[192.0.2.25] said: 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command)")
        XCTAssertEqual(f?.remoteMTA, "mx.example.net")
        XCTAssertEqual(f?.reply?.text, "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown")
    }

    func testNoAcceptedRecipientMeansNoDataAndAReset() {
        let session = connect(ehlo: ["250 mx.example.net"])
        session.begin(message(["nobody@example.net"]))
        var replies = ["250 Ok", "450 4.2.0 try later", "250 Ok"]
        XCTAssertEqual(run(session, &replies), ["MAIL FROM:<alice@example.org>", "|", "RCPT TO:<nobody@example.net>", "|", "RSET", "|"])
        XCTAssertEqual(failure(session.outcomes[0])?.dsn, "4.2.0")
        XCTAssertTrue(session.ready, "a reset connection can carry the next message")
    }

    func testPipelinedDataAfterEveryRecipientRefusedGetsADot() {
        let session = connect()
        session.begin(message(["nobody@example.net"]))
        var replies = ["250 Ok", "550 5.1.1 no", "354 go", "250 Ok"]
        XCTAssertEqual(run(session, &replies), ["MAIL FROM:<alice@example.org> SIZE=100", "RCPT TO:<nobody@example.net>", "DATA", "|", "|", "|", ".", "|"])
        XCTAssertEqual(failure(session.outcomes[0])?.dsn, "5.1.1")
    }

    func testRefusedSenderFailsEveryRecipient() {
        let session = connect()
        session.begin(message(["bob@example.net", "carol@example.net"]))
        var replies = ["553 5.7.1 <alice@example.org>: Sender address rejected: not owned", "250 Ok", "250 Ok", "503 5.5.1 Error: need RCPT command", "250 Ok"]
        XCTAssertEqual(run(session, &replies).suffix(2), ["RSET", "|"])
        for outcome in session.outcomes {
            XCTAssertEqual(failure(outcome)?.reason,
                           "host mx.example.net[192.0.2.25] said: 553 5.7.1 <alice@example.org>: Sender address rejected: not owned (in reply to MAIL FROM command)")
        }
    }

    func testRefusedDataAndRefusedEndOfData() {
        var session = connect()
        session.begin(message(["bob@example.net"]))
        var replies = ["250 Ok", "250 Ok", "554 5.5.1 Error: no valid recipients", "250 Ok"]
        run(session, &replies)
        XCTAssertEqual(failure(session.outcomes[0])?.reason, "host mx.example.net[192.0.2.25] said: 554 5.5.1 Error: no valid recipients (in reply to DATA command)")
        session = connect()
        session.begin(message(["bob@example.net"]))
        replies = ["250 Ok", "250 Ok", "354 go", "552 5.3.4 Message size exceeds fixed limit"]
        run(session, &replies)
        XCTAssertEqual(failure(session.outcomes[0])?.reason,
                       "host mx.example.net[192.0.2.25] said: 552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)")
    }

    func testAnAnswerOutsideTheProtocolIsAProtocolError() {
        let session = connect()
        session.begin(message(["bob@example.net"]))
        var replies = ["250 Ok", "250 Ok", "250 go ahead"]
        run(session, &replies)
        XCTAssertEqual(failure(session.outcomes[0]), SMTPFailure(
            dsn: "5.5.0", reason: "Protocol error: host mx.example.net[192.0.2.25] said: 250 go ahead (in reply to DATA command)",
            reply: SMTPClientReply("250 go ahead"), remoteMTA: "mx.example.net"))
    }

    func testDSNAndEncodingParameters() {
        let session = connect()
        var m = message([], size: 42)
        m.recipients = [
            SMTPTransactionRecipient(address: "bob@example.net", orcpt: "rfc822;Bob+x=y@example.net", notify: "SUCCESS,FAILURE"),
            SMTPTransactionRecipient(address: "carol@example.net", originalAddress: "carol@old.example"),
        ]
        m.encoding = "8BITMIME"
        m.envid = "env id+1"
        m.ret = "hdrs"
        m.smtputf8Requested = true
        session.begin(m)
        var replies = ["250 Ok", "250 Ok", "250 Ok", "354 go", "250 Ok"]
        XCTAssertEqual(run(session, &replies).prefix(3), [
            "MAIL FROM:<alice@example.org> SIZE=42 BODY=8BITMIME ENVID=env+20id+2B1 RET=HDRS SMTPUTF8",
            "RCPT TO:<bob@example.net> ORCPT=rfc822;Bob+2Bx+3Dy@example.net NOTIFY=SUCCESS,FAILURE",
            "RCPT TO:<carol@example.net> ORCPT=rfc822;carol@old.example",
        ])
    }

    func testNoDSNParametersToAServerWithoutDSN() {
        let session = connect(ehlo: ["250-mx.example.net", "250 PIPELINING"])
        var m = message(["bob@example.net"])
        m.envid = "x"
        m.recipients[0].notify = "NEVER"
        m.encoding = "8BITMIME"
        session.begin(m)
        var replies = ["250 Ok", "250 Ok", "354 go", "250 Ok"]
        XCTAssertEqual(run(session, &replies).prefix(2), ["MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>"])
    }

    func testMessageTooBigForTheServerIsRefusedBeforeSending() {
        let session = connect(ehlo: ["250-mx.example.net", "250 SIZE 1000"])
        session.begin(message(["bob@example.net"], size: 5000))
        var none: [String] = []
        XCTAssertEqual(run(session, &none), [])
        XCTAssertEqual(failure(session.outcomes[0]), SMTPFailure(dsn: "5.3.4", reason: "message size 5000 exceeds size limit 1000 of server mx.example.net[192.0.2.25]"))
    }

    func testSMTPUTF8MessageToAServerWithoutIt() {
        let session = connect(ehlo: ["250-mx.example.net", "250 8BITMIME"])
        var m = message(["jos\u{e9}@example.net"])
        m.smtputf8Requested = true
        m.smtputf8Required = true
        session.begin(m)
        var none: [String] = []
        XCTAssertEqual(run(session, &none), [])
        XCTAssertEqual(failure(session.outcomes[0]), SMTPFailure(dsn: "5.6.7", reason: "SMTPUTF8 is required, but was not offered by host mx.example.net[192.0.2.25]"))
    }

    // MARK: the handshake

    func testRefusedGreetingIsTemporaryAndEndsWithQuit() {
        let session = SMTPClientSession(settings: settings(), host: "mx.example.net", address: "192.0.2.25")
        var replies = ["554 5.7.1 go away"]
        XCTAssertEqual(run(session, &replies), ["|", "QUIT", "<close>"])
        XCTAssertEqual(session.failure, SMTPFailure(dsn: "4.7.1", reason: "host mx.example.net[192.0.2.25] refused to talk to me: 554 5.7.1 go away",
                                                    reply: SMTPClientReply("554 5.7.1 go away"), remoteMTA: "mx.example.net"))
        let strict = SMTPClientSession(settings: settings { $0.skip5xxGreeting = false }, host: "mx.example.net", address: "192.0.2.25")
        replies = ["554 go away"]
        run(strict, &replies)
        XCTAssertEqual(strict.failure?.dsn, "5.0.0")
    }

    func testHeloWhenEhloIsRefused() {
        let session = SMTPClientSession(settings: settings(), host: "mx.example.net", address: "192.0.2.25")
        var replies = ["220 old.example.net SMTP", "502 5.5.2 Error: command not recognized", "250 old.example.net"]
        XCTAssertEqual(run(session, &replies), ["|", "EHLO client.example.org", "|", "HELO client.example.org", "|"])
        XCTAssertTrue(session.ready)
        XCTAssertFalse(session.features.esmtp)
    }

    func testMultiLineRepliesAreQuotedWhole() {
        let session = SMTPClientSession(settings: settings(), host: "mx.example.net", address: "192.0.2.25")
        var replies = ["421-4.3.2 busy\n421 4.3.2 come back later"]
        run(session, &replies)
        XCTAssertEqual(session.failure?.reason, "host mx.example.net[192.0.2.25] refused to talk to me: 421-4.3.2 busy 421 4.3.2 come back later")
    }

    func testLostAndSilentServers() {
        let session = connect()
        session.begin(message(["bob@example.net"]))
        _ = session.nextStep()
        _ = session.nextStep()
        _ = session.nextStep()
        session.connectionFailed(at: .rcpt, timedOut: false)
        XCTAssertEqual(failure(session.outcomes[0]), SMTPFailure(dsn: "4.4.2", reason: "lost connection with mx.example.net[192.0.2.25] while sending RCPT TO"))
        XCTAssertEqual(session.nextStep(), .close)
        let silent = SMTPClientSession(settings: settings(), host: "127.0.0.1", address: "127.0.0.1")
        var none: [String] = []
        run(silent, &none)
        XCTAssertEqual(silent.failure?.reason, "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting")
    }

    func testLoopCheck() {
        let session = SMTPClientSession(settings: settings {
            $0.loopCheck = true
            $0.nexthop = "example.net"
        }, host: "mx.example.net", address: "192.0.2.25")
        var replies = ["220 mx ESMTP", "250-client.example.org\n250 PIPELINING"]
        run(session, &replies)
        XCTAssertEqual(session.failure, SMTPFailure(dsn: "5.4.6", reason: "mail for example.net loops back to myself"))
    }

    func testProbeBeforeReuse() {
        let session = connect()
        session.probe()
        var replies = ["250 2.0.0 Ok"]
        XCTAssertEqual(run(session, &replies), ["RSET", "|"])
        XCTAssertTrue(session.ready)
        session.probe()
        replies = ["500 no"]
        XCTAssertEqual(run(session, &replies), ["RSET", "|", "<close>"])
        XCTAssertFalse(session.reusable)
    }

    // MARK: STARTTLS and AUTH

    func testStartTLSThenEhloAgain() {
        let session = SMTPClientSession(settings: settings {
            $0.tlsLevel = .may
            $0.tlsAvailable = true
        }, host: "mx.example.net", address: "192.0.2.25")
        var replies = ["220 mx ESMTP", "250-mx\n250 STARTTLS", "220 2.0.0 Ready to start TLS", "250-mx\n250 PIPELINING"]
        XCTAssertEqual(run(session, &replies), ["|", "EHLO client.example.org", "|", "STARTTLS", "|", "<tls>", "EHLO client.example.org", "|"])
        XCTAssertTrue(session.tlsActive && session.ready && session.features.pipelining && !session.features.starttls)
    }

    func testEncryptRequiresStartTLS() {
        let session = SMTPClientSession(settings: settings {
            $0.tlsLevel = .encrypt
            $0.tlsAvailable = true
        }, host: "mx.example.net", address: "192.0.2.25")
        var replies = ["220 mx ESMTP", "250 mx"]
        XCTAssertEqual(run(session, &replies).suffix(2), ["QUIT", "<close>"])
        XCTAssertEqual(session.failure, SMTPFailure(dsn: "4.7.4", reason: "TLS is required, but was not offered by host mx.example.net[192.0.2.25]"))
        let may = SMTPClientSession(settings: settings {
            $0.tlsLevel = .may
            $0.tlsAvailable = true
        }, host: "mx.example.net", address: "192.0.2.25")
        replies = ["220 mx ESMTP", "250-mx\n250 STARTTLS", "454 4.7.0 TLS not available"]
        run(may, &replies)
        XCTAssertTrue(may.ready, "at level may a refused STARTTLS means plain text")
    }

    func auth(_ change: (inout SMTPClientAuth) -> Void = { _ in }) -> SMTPClientSettings {
        settings {
            var a = SMTPClientAuth(username: "user", password: "pass", securityOptions: ["noanonymous"])
            change(&a)
            $0.auth = a
        }
    }

    func testAuthPlain() {
        let session = SMTPClientSession(settings: auth(), host: "relay.example.net", address: "192.0.2.26")
        var replies = ["220 relay ESMTP", "250-relay\n250-AUTH LOGIN PLAIN\n250 PIPELINING", "235 2.7.0 Authentication successful"]
        XCTAssertEqual(run(session, &replies), ["|", "EHLO client.example.org", "|", "AUTH PLAIN AHVzZXIAcGFzcw==", "|"])
        XCTAssertTrue(session.ready)
    }

    func testAuthLoginWhenFilteredTo() {
        let session = SMTPClientSession(settings: auth { $0.mechanismFilter = ["LOGIN"] }, host: "relay.example.net", address: "192.0.2.26")
        var replies = ["220 relay ESMTP", "250-relay\n250 AUTH=PLAIN LOGIN", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Ok"]
        XCTAssertEqual(run(session, &replies).suffix(6), ["AUTH LOGIN", "|", "dXNlcg==", "|", "cGFzcw==", "|"])
        XCTAssertTrue(session.ready)
    }

    func testAuthFailures() {
        var session = SMTPClientSession(settings: auth(), host: "relay.example.net", address: "192.0.2.26")
        var replies = ["220 relay ESMTP", "250-relay\n250 AUTH PLAIN", "535 5.7.8 Error: authentication failed: bad"]
        run(session, &replies)
        XCTAssertEqual(session.failure?.dsn, "4.7.8", "smtp_sasl_auth_soft_bounce")
        XCTAssertEqual(session.failure?.reason, "SASL authentication failed; server relay.example.net[192.0.2.26] said: 535 5.7.8 Error: authentication failed: bad")
        session = SMTPClientSession(settings: auth { $0.securityOptions = ["noplaintext", "noanonymous"] }, host: "relay.example.net", address: "192.0.2.26")
        replies = ["220 relay ESMTP", "250-relay\n250 AUTH PLAIN LOGIN"]
        XCTAssertEqual(run(session, &replies).suffix(2), ["QUIT", "<close>"])
        XCTAssertEqual(session.failure, SMTPFailure(dsn: "4.7.0", reason: "SASL authentication failed; cannot authenticate to server relay.example.net[192.0.2.26]: no mechanism available"))
        session = SMTPClientSession(settings: auth { $0.mechanismFilter = ["CRAM-MD5"] }, host: "relay.example.net", address: "192.0.2.26")
        replies = ["220 relay ESMTP", "250-relay\n250 AUTH PLAIN LOGIN"]
        run(session, &replies)
        XCTAssertEqual(session.failure?.reason,
                       "SASL authentication failed: server relay.example.net[192.0.2.26] offered no compatible authentication mechanisms for this type of connection security")
    }

    func testNoAuthWhenTheServerOffersNone() {
        let session = SMTPClientSession(settings: auth(), host: "relay.example.net", address: "192.0.2.26")
        var replies = ["220 relay ESMTP", "250 relay"]
        run(session, &replies)
        XCTAssertTrue(session.ready)
    }
}

final class SMTPClientPiecesTests: XCTestCase {
    func testReplyReader() {
        var reader = SMTPClientReplyReader()
        XCTAssertNil(reader.feed("250-mx.example.net"))
        XCTAssertNil(reader.feed("garbage line"))
        let reply = reader.feed("250 DSN")
        XCTAssertEqual(reply?.code, 250)
        XCTAssertEqual(reply?.texts, ["mx.example.net", "garbage line", "DSN"])
        XCTAssertEqual(SMTPClientReply("550 5.1.1 no such user").dsn, "5.1.1")
        XCTAssertEqual(SMTPClientReply("550 4.1.1 wrong class").dsn, "5.0.0")
        XCTAssertEqual(SMTPClientReply("451 try later").dsn, "4.0.0")
        XCTAssertEqual(SMTPClientReply("354 go").dsn, "")
        XCTAssertEqual(SMTPClientReply("250").code, 250)
        XCTAssertEqual(SMTPClientReply("220 bad\u{1}char").text, "220 bad?char")
    }

    func encode(_ parts: [String], limit: Int = 0) -> String {
        var encoder = SMTPDataEncoder(lineLimit: limit)
        var out: [UInt8] = []
        for p in parts {
            Array(p.utf8).withUnsafeBytes { encoder.encode($0, into: &out) }
        }
        encoder.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testDataEncoding() {
        XCTAssertEqual(encode(["Subject: x\n\n.hidden\n..two\nend\n"]), "Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n")
        XCTAssertEqual(encode(["a\n.", "b\nlast"]), "a\r\n..b\r\nlast\r\n.\r\n", "a dot at a chunk's start is still a line start")
        XCTAssertEqual(encode(["crlf\r\n"]), "crlf\r\n.\r\n")
        XCTAssertEqual(encode([]), ".\r\n")
        XCTAssertEqual(encode(["abcdefgh\n", "1234", "5678\n"], limit: 4), "abcd\r\n efg\r\n h\r\n1234\r\n 567\r\n 8\r\n.\r\n")
        XCTAssertEqual(encode(["abcd\n"], limit: 4), "abcd\r\n.\r\n", "a line of exactly the limit is not broken")
    }

    func testServerFeatures() {
        var f = SMTPServerFeatures()
        f.read(ehlo: SMTPClientReply(code: 250, dsn: "2.0.0", lines: ["250-mx", "250-size", "250-AUTH PLAIN", "250-AUTH=LOGIN", "250 SMTPUTF8"]))
        XCTAssertEqual(f.sizeLimit, 0)
        XCTAssertEqual(f.authMechanisms, ["PLAIN", "LOGIN"])
        XCTAssertTrue(f.eightBitMIME, "SMTPUTF8 implies 8BITMIME, as Postfix assumes")
    }
}

// swift-tools-version:6.0
// Postern: a Postfix-compatible mail transfer agent. One executable per daemon and per
// command, one shared library, thin bridges to the C libraries it uses.
import PackageDescription

let daemons = ["master", "smtpd", "qmgr", "local", "smtp", "anvil", "spawn", "pickup", "showq"]
let commands = [
    "postern", "postconf", "postmap", "postalias", "postqueue", "postsuper", "postcat",
    "sendmail", "postdrop",
]

// Glibc-only daemons with the Swift runtime linked in statically start fast and stay small.
let programSettings: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]

let package = Package(
    name: "Postern",
    targets: [
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl"),
        .systemLibrary(name: "CSASL", path: "Sources/CSASL", pkgConfig: "libsasl2"),
        .systemLibrary(name: "CCDB", path: "Sources/CCDB"),
        .systemLibrary(name: "CPCRE2", path: "Sources/CPCRE2", pkgConfig: "libpcre2-8"),
        .systemLibrary(name: "CUnbound", path: "Sources/CUnbound"),
        .target(name: "CSupport", path: "Sources/CSupport"),
        .target(
            name: "Shared",
            dependencies: ["CSupport", "COpenSSL", "CSASL", "CCDB", "CPCRE2", "CUnbound"],
            path: "Sources/Shared"
        ),
        // A tiny single-client service the master's tests supervise.
        .executableTarget(name: "testd", dependencies: ["Shared"], path: "Tests/Fixtures/testd"),
        .testTarget(name: "SharedTests", dependencies: ["Shared"], path: "Tests/SharedTests"),
        .testTarget(name: "smtpdTests", dependencies: ["smtpd", "Shared"], path: "Tests/smtpdTests"),
        .testTarget(name: "qmgrTests", dependencies: ["qmgr", "Shared"], path: "Tests/qmgrTests"),
        .testTarget(name: "localTests", dependencies: ["local", "Shared"], path: "Tests/localTests"),
        .testTarget(name: "sendmailTests", dependencies: ["sendmail", "Shared"], path: "Tests/sendmailTests"),
        .testTarget(name: "anvilTests", dependencies: ["anvil", "Shared"], path: "Tests/anvilTests"),
        .testTarget(name: "spawnTests", dependencies: ["spawn", "Shared"], path: "Tests/spawnTests"),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Shared"],
            path: "Tests/IntegrationTests"
        ),
    ]
        + (daemons + commands).map { name in
            .executableTarget(
                name: name,
                dependencies: ["Shared"],
                path: "Sources/\(name)",
                linkerSettings: programSettings
            )
        },
    swiftLanguageModes: [.v5]
)

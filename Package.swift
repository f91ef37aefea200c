// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // libjansson from Debian's libjansson-dev: the strict check of request bodies.
        .systemLibrary(
            name: "CJansson",
            pkgConfig: "jansson",
            providers: [.apt(["libjansson-dev"])]
        ),
        // The one SQLite setting Swift cannot make itself (a variadic sqlite3_config call).
        .target(name: "CSQLiteSettings", linkerSettings: [.linkedLibrary("sqlite3")]),
        // Listeners, sessions, modes and their events: NIO only, no HTTP, no SQL.
        .target(
            name: "SwitchboardCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        // The session history in SQLite (GRDB on the system libsqlite3): migrations, the batched
        // writer, queries. Knows the core's types, never its sockets.
        .target(
            name: "SwitchboardHistory",
            dependencies: [
                "SwitchboardCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's own API for the one statement the writer runs per session (SessionUpsert).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                "CSQLiteSettings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            plugins: ["EmbedFiles"]
        ),
        // The same history in PostgreSQL (postgres-nio): its own migrations, the batched writer
        // (one statement of array binds a batch), the queries, stored listeners, retention and the per-instance lease.
        // Its own target so that SwitchboardHistory, the SQLite side, needs nothing of it.
        .target(
            name: "SwitchboardHistoryPostgres",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardHistory",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            plugins: ["EmbedFiles"]
        ),
        // bench/history: history inserts per second and first-page latency over a large file.
        .executableTarget(
            name: "history-bench",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardHistory",
                "SwitchboardHistoryPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // bench/run's churn peer: the smallest SwiftNIO echo server, to tell NIO's cost from ours.
        .executableTarget(
            name: "nio-echo",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // bench/run's forward-churn peer: the smallest SwiftNIO forwarder, to tell NIO's cost from ours.
        .executableTarget(
            name: "nio-forward",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Turns files into Swift source at build time: the migrations for SwitchboardHistory,
        // the OpenAPI document for SwitchboardAPI (see Plugins/EmbedFiles).
        .executableTarget(name: "embed-files"),
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["embed-files"]),
        // Running under systemd: sd_notify over $NOTIFY_SOCKET, the watchdog, socket
        // activation, journal-friendly log lines. No libsystemd.
        .target(
            name: "SwitchboardSystemd",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Counts what the core reports (sessions, bytes, rejections, connect errors) into
        // swift-metrics. Its own target so the core stays free of metrics and the API free of
        // session bookkeeping; the backend (Prometheus) is chosen by the executable.
        .target(
            name: "SwitchboardMetrics",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The JSON-over-HTTP control API on Hummingbird.
        .target(
            name: "SwitchboardAPI",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardHistory",
                "CJansson",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            plugins: ["EmbedFiles"]
        ),
        // Toxiproxy's HTTP API (2.12) on a port of its own, over the core: a proxy is a forward
        // listener, a toxic a fault on it, so Toxiproxy's clients drive switchboard unchanged.
        .target(
            name: "SwitchboardToxiproxy",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The whole service built from its Settings in one function, buildService: history,
        // core, metrics, retention, the API and the systemd pieces in one ServiceGroup. The
        // executable runs it and the API tests run it, so what is tested is what is served.
        .target(
            name: "SwitchboardService",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardMetrics",
                "SwitchboardHistory",
                "SwitchboardHistoryPostgres",
                "SwitchboardSystemd",
                "SwitchboardAPI",
                "SwitchboardToxiproxy",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The client side of the control API for the command line: the address (HOST:PORT or
        // unix:/path), the token, requests and answers, and the service's refusals told apart
        // from an unreachable service. Knows the API only by its JSON, never its server code.
        .target(
            name: "SwitchboardClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The command line: flags and environment into Settings, then buildService; the
        // history queries; and the verbs over a running service (through SwitchboardClient).
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "SwitchboardClient",
                "SwitchboardService",
                "SwitchboardCore",
                "SwitchboardHistory",
                "SwitchboardHistoryPostgres",
                "SwitchboardSystemd",
                "SwitchboardAPI",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Real-socket helpers shared by the test targets: a TCP peer, an HTTP client, a deadline.
        .target(
            name: "SwitchboardTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "SwitchboardCoreTests",
            dependencies: [
                "SwitchboardCore",
                "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchboardHistoryTests",
            dependencies: [
                "SwitchboardHistory",
                "SwitchboardHistoryPostgres",
                .product(name: "Prometheus", package: "swift-prometheus"),
                "SwitchboardCore",
                "SwitchboardTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchboardSystemdTests",
            dependencies: [
                "SwitchboardSystemd",
                "SwitchboardTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchboardMetricsTests",
            dependencies: [
                "SwitchboardMetrics",
                "SwitchboardCore",
                "SwitchboardTestSupport",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SwitchboardAPITests",
            dependencies: [
                "SwitchboardAPI",
                "SwitchboardService",
                .product(name: "Prometheus", package: "swift-prometheus"),
                "SwitchboardCore",
                "SwitchboardHistory",
                "SwitchboardTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SwitchboardToxiproxyTests",
            dependencies: [
                "SwitchboardToxiproxy",
                "SwitchboardService",
                "SwitchboardCore",
                "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Starts the built binary and talks to it over HTTP, as an operator would.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "switchboard",
                "SwitchboardTestSupport",
            ],
            exclude: ["SeedPeers", "Scripts", "Toxiproxy"]
        ),
    ]
)

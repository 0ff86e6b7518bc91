// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "scribe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scribe", targets: ["scribe"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.1.0"..<"6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "scribe",
            dependencies: [
                "ScribeFlows",
                "ScribeAPI",
                "ScribeChat",
                "ScribeDocuments",
                "ScribeOCR",
                "ScribeQueue",
                "ScribeWorker",
                "ScribeConfig",
                "ScribeLLM",
                "ScribeStore",
                "ScribePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeConfig",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribePostgres",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeStore",
            dependencies: [
                "ScribePostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeChat",
            dependencies: [
                "ScribeLLM",
                "ScribeStore",
                "ScribePostgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeQueue",
            dependencies: [
                "ScribePostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeFlows",
            dependencies: [
                "ScribeChat",
                "ScribeDocuments",
                "ScribeLLM",
                "ScribePostgres",
                "ScribeQueue",
                "ScribeStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeWorker",
            dependencies: [
                "ScribeFlows",
                "ScribeChat",
                "ScribeLLM",
                "ScribeDocuments",
                "ScribeOCR",
                "ScribeQueue",
                "ScribeStore",
                "ScribePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeLLM",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeAPI",
            dependencies: [
                "ScribeChat",
                "ScribeLLM",
                "ScribeDocuments",
                "ScribeFlows",
                "ScribeQueue",
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                "ScribeStore",
                "ScribePostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CTesseract",
            pkgConfig: "tesseract",
            providers: [.apt(["libtesseract-dev", "libleptonica-dev"])]
        ),
        .target(
            name: "ScribeDocuments",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeOCR",
            dependencies: [
                "CTesseract",
                "ScribeDocuments",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeLLMTesting",
            dependencies: [
                "ScribeLLM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ScribeLLMTesting",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fake-llm",
            dependencies: [
                "ScribeLLMTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/FakeLLM",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ScribeTestSupport",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "ScribeFlows",
                "ScribeQueue",
                "ScribeAPI",
                "ScribeChat",
                "ScribeLLM",
                "ScribeStore",
                "ScribePostgres",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Tests/ScribeTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribePostgresTests",
            dependencies: ["ScribePostgres", "ScribeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeStoreTests",
            dependencies: ["ScribeStore",
                "ScribePostgres", "ScribeFlows", "ScribeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeDocumentsTests",
            dependencies: ["ScribeDocuments"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeFlowsTests",
            dependencies: ["ScribeFlows"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeChatTests",
            dependencies: ["ScribeChat", "ScribeLLM"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeOCRTests",
            dependencies: ["ScribeDocuments",
                "ScribeOCR", "CTesseract", "ScribeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeWorkerTests",
            dependencies: [
                "ScribeFlows",
                "ScribeAPI",
                "ScribeChat",
                "ScribeLLM",
                "ScribeLLMTesting",
                "ScribeDocuments",
                "ScribeOCR",
                "ScribeQueue",
                "ScribeStore",
                "ScribePostgres",
                "ScribeTestSupport",
                "ScribeWorker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeQueueTests",
            dependencies: [
                "ScribePostgres",
                "ScribeQueue",
                "ScribeTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeEndToEndTests",
            dependencies: [
                "ScribeAPI",
                "ScribeFlows",
                "ScribeLLMTesting",
                "ScribePostgres",
                "ScribeQueue",
                "ScribeStore",
                "ScribeTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeConfigTests",
            dependencies: ["ScribeConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeLLMTests",
            dependencies: [
                "ScribeLLM",
                "ScribeLLMTesting",
                "ScribeTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RepositoryTests",
            dependencies: ["ScribeTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ScribeAPITests",
            dependencies: [
                "ScribeFlows",
                "ScribeQueue",
                "ScribeAPI",
                "ScribeLLM",
                "ScribeLLMTesting",
                "ScribeStore",
                "ScribePostgres",
                "ScribeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.0
//
// Layering (dependencies only point downwards):
//   bridgekeeper-helper (setuid) -> BridgeHelper -> HelperArguments -> BridgeACL (pure, stdlib only)
//                                              \-> BridgeSystem -> CBridgeShims, libcap, BridgeACL
//   bridgekeeper (admin CLI)     -> BridgeHelper (the helper's decision values and messages), BridgeClient,
//                                   BridgeSystem, BridgeLint and BridgeDoctor (pure) -> BridgeACL, ArgumentParser
// BridgeACL also holds the facts both programs share (Installation: the ACL path, the version).
// The helper never links Foundation or ArgumentParser.
import PackageDescription

let package = Package(
    name: "bridgekeeper",
    products: [
        .executable(name: "bridgekeeper-helper", targets: ["bridgekeeper-helper"]),
        .executable(name: "bridgekeeper", targets: ["bridgekeeper"]),
        .executable(name: "bridgekeeper-bench", targets: ["bridgekeeper-bench"]),
        .library(name: "BridgeACL", targets: ["BridgeACL"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "BridgeACL"),
        .systemLibrary(name: "CLibcap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .target(name: "CBridgeShims"),
        .target(name: "BridgeSystem", dependencies: ["BridgeACL", "CBridgeShims", "CLibcap"]),
        // The helper's command line: pure (stdlib and BridgeACL), so the fuzz target builds it whole.
        .target(name: "HelperArguments", dependencies: ["BridgeACL"]),
        .target(name: "BridgeHelper", dependencies: ["BridgeACL", "BridgeSystem", "CBridgeShims", "HelperArguments"]),
        // CHelperEntry empties the environment before the Swift runtime starts: helper only.
        .target(name: "CHelperEntry"),
        .executableTarget(name: "bridgekeeper-helper",
                          dependencies: ["BridgeHelper", "BridgeSystem", "CHelperEntry", "HelperArguments"]),
        .target(name: "BridgeClient", dependencies: ["BridgeACL", "BridgeSystem", "CBridgeShims"]),
        // `bridgekeeper lint`'s analysis: pure (stdlib and BridgeACL), the system facts injected.
        .target(name: "BridgeLint", dependencies: ["BridgeACL"]),
        // `bridgekeeper doctor`'s checks: pure (stdlib and BridgeACL), the host's facts injected.
        .target(name: "BridgeDoctor", dependencies: ["BridgeACL"]),
        .executableTarget(
            name: "bridgekeeper",
            dependencies: [
                "BridgeACL", "BridgeClient", "BridgeDoctor", "BridgeHelper", "BridgeLint", "BridgeSystem", "CBridgeShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "bridgekeeper-bench",
                          dependencies: ["BridgeACL", "BridgeClient", "BridgeHelper", "BridgeSystem", "CBridgeShims"]),
        .testTarget(name: "BridgeACLTests", dependencies: ["BridgeACL"]),
        .testTarget(name: "BridgeHelperTests", dependencies: ["BridgeACL", "BridgeHelper", "BridgeSystem", "HelperArguments"]),
        .testTarget(name: "HelperArgumentsTests", dependencies: ["BridgeACL", "HelperArguments"]),
        .testTarget(name: "BridgeLintTests", dependencies: ["BridgeACL", "BridgeLint"]),
        .testTarget(name: "BridgeDoctorTests", dependencies: ["BridgeDoctor"]),
        .testTarget(name: "BridgeSystemTests", dependencies: ["BridgeSystem", "CBridgeShims"]),
        .testTarget(name: "BridgeClientTests", dependencies: ["BridgeACL", "BridgeClient", "BridgeSystem"]),
    ],
    swiftLanguageModes: [.v6]
)

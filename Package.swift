// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Nabla",
    products: [
        .library(name: "Nabla", targets: ["Nabla"]),
        // Data-parallel training over MPI; the Nabla library does not need it.
        .library(name: "NablaDistributed", targets: ["NablaDistributed"]),
        .executable(name: "nabla", targets: ["NablaCommand"]),
        .executable(name: "nabla-mpi-probe", targets: ["NablaMPIProbe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS (CBLAS + LAPACK) and LAPACKE, found through pkg-config.
        .systemLibrary(
            name: "CBLAS",
            path: "Modules/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        // zlib, to read gzipped data sets (Foundation cannot gunzip on Linux).
        .systemLibrary(
            name: "CZlib",
            path: "Modules/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Open MPI (Debian's), found through pkg-config.
        .systemLibrary(
            name: "CMPI",
            path: "Modules/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // Kernels compiled per instruction set (AVX2, AVX-512) and chosen at run time.
        .target(name: "CNablaKernels"),
        .target(
            name: "Nabla",
            dependencies: [
                "CBLAS",
                "CNablaKernels",
                "CZlib",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),
        .executableTarget(
            name: "NablaCommand",
            dependencies: [
                "Nabla",
                "NablaDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "NablaDistributed", dependencies: ["Nabla", "CMPI"]),
        // Run by NablaDistributedTests under mpirun: every collective on real ranks.
        .executableTarget(name: "NablaMPIProbe", dependencies: ["Nabla", "NablaDistributed"]),
        .testTarget(name: "NablaDistributedTests", dependencies: ["Nabla", "NablaDistributed", "NablaMPIProbe"]),
        .testTarget(
            name: "NablaTests", dependencies: ["Nabla", "NablaCommand"],
            // Files written by PyTorch, by Tests/Fixtures/make_pytorch_fixture.py.
            resources: [.copy("Fixtures")]
        ),
    ]
)

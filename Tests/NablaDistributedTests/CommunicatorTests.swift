import Foundation
import NablaDistributed
@testable import NablaMPIProbe
import Nabla
import Testing

/// Runs `nabla-mpi-probe` on real ranks under `mpirun`, on loopback and shared memory only: the
/// Open MPI variables below, and a network namespace with only loopback where the kernel allows.
enum MPIJob {
    /// Open MPI on shared memory and loopback, as root (CI), oversubscribed, one BLAS thread.
    static let environment = [
        "OMPI_MCA_btl": "self,vader",
        "OMPI_MCA_btl_tcp_if_include": "lo",
        "OMPI_MCA_oob_tcp_if_include": "lo",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OPENBLAS_NUM_THREADS": "1",
    ]

    /// The built products' folder (the test bundle's).
    static var productsFolder: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }

    /// Why ranks cannot start here, or `nil`.
    static var unavailable: String? {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun") ? nil : "Open MPI's mpirun is not installed"
    }

    /// Whether `unshare -n` works here (it needs CAP_SYS_ADMIN).
    static let namespaces: Bool = (try? run("/usr/bin/unshare", ["-n", "true"], timeout: 10).status) == 0

    /// Runs `ranks` copies of `program` with `arguments`; returns the exit status and the output.
    static func mpirun(_ ranks: Int, _ program: String, _ arguments: [String] = [], timeout: TimeInterval = 60)
        throws -> (status: Int32, output: String)
    {
        let binary = productsFolder.appendingPathComponent(program).path
        let command = ["/usr/bin/mpirun", "-np", "\(ranks)", binary] + arguments
        guard namespaces else { return try run(command[0], Array(command.dropFirst()), timeout: timeout) }
        // A fresh network namespace: only loopback, brought up first.
        let script = "ip link set lo up && exec " + command.map { "'\($0)'" }.joined(separator: " ")
        return try run("/usr/bin/unshare", ["-n", "/bin/sh", "-c", script], timeout: timeout)
    }

    static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var data = Data()
        let reader = pipe.fileHandleForReading
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        data = reader.readDataToEndOfFile()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

@Suite(.serialized) struct CommunicatorTests {
    /// Two real ranks run every collective and check what came back.
    @Test func collectivesOnTwoRanks() throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        let (status, output) = try MPIJob.mpirun(2, "nabla-mpi-probe")
        #expect(status == 0, "\(output)")
        #expect(output.contains("rank 0 of 2: collectives agree") && output.contains("rank 1 of 2: collectives agree"), "\(output)")
    }

    /// A rank whose parameters differ from rank 0's: every rank stops, at once, with one line
    /// naming the parameter, the rank and both shapes.
    @Test func parameterShapeMismatchStopsEveryRank() throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        let started = Date()
        let (status, output) = try MPIJob.mpirun(2, "nabla-mpi-probe", ["mismatch"], timeout: 30)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(status != 0)
        let line = "Error: DataParallelTrainer: parameter 1.weight (entry 0): rank 1 has shape [5, 4], rank 0 has shape [4, 4]"
        #expect(output.components(separatedBy: line).count == 3, "every rank says it once: \(output)")
        #expect(!output.contains("no mismatch seen"))
    }

    /// A rank killed mid-job: mpirun stops the others at once, and no rank process is left.
    @Test func killedRankStopsTheJob() throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        let started = Date()
        let (status, output) = try MPIJob.mpirun(2, "nabla-mpi-probe", ["die"], timeout: 30)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(status != 0)
        #expect(output.contains("exited on signal 9"), "\(output)")
        #expect(!output.contains("the allreduce returned"))
        Thread.sleep(forTimeInterval: 1)
        let left = try MPIJob.run("/usr/bin/pgrep", ["-f", "nabla-mpi-probe die"], timeout: 10)
        #expect(left.output.isEmpty, "left running: \(left.output)")
    }

    /// A rank that stays alive but stops answering: the other's collective gives up after its
    /// timeout with one line, and the job ends.
    @Test(arguments: [
        ("allreduce", "MPI_Iallreduce of 1 Double"),
        ("barrier", "MPI_Ibarrier"),
        ("broadcast", "MPI_Ibcast of 1 Double from rank 1"),
        ("allgather", "MPI_Iallgather of 1 Int64"),
    ])
    func watchdogEndsAWaitForASilentRank(collective: String, operation: String) throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        let started = Date()
        let (status, output) = try MPIJob.mpirun(2, "nabla-mpi-probe", ["silent", collective], timeout: 30)
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(status != 0)
        #expect(output.contains("Error: \(operation): no answer from the other ranks in 2 s (did a rank stop?)"), "\(output)")
    }

    /// Without mpirun there is no job: a one-line error, never a silent single process.
    @Test func withoutMPIRunIsAnError() throws {
        let (status, output) = try MPIJob.run(MPIJob.productsFolder.appendingPathComponent("nabla-mpi-probe").path, [], timeout: 30)
        #expect(status != 0)
        #expect(output.contains("Error: MPI: this process was not started by mpirun (run it as `mpirun -np N …`)"), "\(output)")
    }
}

/// Two ranks with half a batch each take exactly the steps one process takes with the whole
/// batch: after each of 5 SGD steps with momentum every parameter agrees within 1e-12, on both backward paths.
@Suite(.serialized) struct DataParallelEqualityTests {
    /// With `synchronized`, a SyncBatchNorm on the ranks against a BatchNorm on one process; the
    /// running statistics must agree too.
    @Test(arguments: [false, true], [false, true])
    func twoRanksEqualOneProcess(autodiff: Bool, synchronized: Bool) throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        let mode = "train-equality" + (synchronized ? "-sync" : "") + (autodiff ? "-autodiff" : "")
        let (status, output) = try MPIJob.mpirun(2, "nabla-mpi-probe", [mode])
        #expect(status == 0, "\(output)")
        // Every bucket's allreduce started from the backward, as each layer finished (buckets of at most 256 bytes).
        #expect(output.contains("buckets started during the backward: \(synchronized ? 4 : 3) of \(synchronized ? 4 : 3)"), "\(output)")
        let ranks = EqualityRun.parse(output)
        let single = EqualityRun.trainer(autodiff: autodiff, normalization: synchronized ? { BatchNorm(featureCount: 3) } : nil)
        for step in 0..<EqualityRun.steps {
            let batch = EqualityRun.batch(step)
            single.step(images: batch.images, labels: batch.labels)
            let expected = EqualityRun.parameters(single)
            #expect(ranks[step]?.count == expected.count, "step \(step): \(output)")
            for (index, values) in expected.enumerated() {
                guard let actual = ranks[step]?[index] else { continue }
                // Relative to the parameter's size, and at least 1e-12 absolute: a convolution's bias
                // before a batch normalization has a zero gradient and stays at rounding noise (~1e-17).
                let scale = max(values.map(abs).max() ?? 1, 1)
                let worst = zip(actual, values).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-12 * scale, "step \(step) parameter \(index): off by \(worst)")
            }
        }
    }
}

/// `nabla train --distributed` on 2 real ranks: one header and one summary per epoch, printed by
/// rank 0 alone, and an accuracy above chance.
@Suite(.serialized) struct DistributedCommandTests {
    @Test func trainPrintsOnRankZeroOnly() throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        guard FileManager.default.fileExists(atPath: "/usr/share/fashion-mnist") || FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            print("skipped: Fashion-MNIST is not installed")
            return
        }
        let (status, output) = try MPIJob.mpirun(
            2, "nabla", ["train", "--distributed", "--model", "mlp", "--limit", "1024", "--epochs", "1", "--batch-size", "64"],
            timeout: 120)
        #expect(status == 0, "\(output)")
        #expect(output.components(separatedBy: "across 2 ranks").count == 2, "\(output)")
        let summaries = output.split(separator: "\n").filter { $0.hasPrefix("epoch 1: train loss") }
        #expect(summaries.count == 1, "\(output)")
        let accuracy = summaries.first.flatMap { $0.split(separator: " ").first { $0.hasSuffix("%,") } }
            .flatMap { Double($0.dropLast(2)) } ?? 0
        #expect(accuracy > 50, "\(summaries)")
    }

    /// `nabla compare --distributed`: both paths trained on 2 ranks, one report from rank 0.
    @Test func comparePrintsOneReport() throws {
        if let reason = MPIJob.unavailable {
            print("skipped: \(reason)")
            return
        }
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else {
            print("skipped: Fashion-MNIST is not installed")
            return
        }
        let (status, output) = try MPIJob.mpirun(
            2, "nabla", ["compare", "--distributed", "--model", "mlp", "--limit", "512", "--epochs", "1", "--batch-size", "64"],
            timeout: 120)
        #expect(status == 0, "\(output)")
        #expect(output.components(separatedBy: "autodiff / manual time:").count == 2, "\(output)")
        #expect(output.components(separatedBy: "batch 64 over 2 ranks").count == 2, "\(output)")
    }
}

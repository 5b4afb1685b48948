// nabla-mpi-probe: run by NablaDistributedTests under `mpirun`. By default each rank runs the
// collectives on values that depend on its rank, checks what came back against what the
// definition gives, and prints one line; it exits with 1 on any difference or error. With
// `train-equality` (or `train-equality-autodiff`) the ranks run EqualityRun and rank 0 prints
// the parameters after every step.
import Foundation
import Nabla
import NablaDistributed

func run() throws(MPIError) -> [String] {
    let world = try Communicator.world()
    let (rank, size) = (world.rank, world.size)
    var problems: [String] = []

    // Sum of (r + 1)·[1, 2, 3] over the ranks: [1, 2, 3] · size(size + 1)/2.
    let total = Double(size * (size + 1) / 2)
    var doubles = Tensor<Double>([1, 2, 3]) * Double(rank + 1)
    try world.allreduceSum(&doubles)
    if doubles.scalars != [1, 2, 3].map({ $0 * total }) { problems.append("allreduce Double \(doubles.scalars)") }
    var floats = Tensor<Float>([0.5, -1]) * Float(rank + 1)
    try world.allreduceSum(&floats)
    if floats.scalars != [0.5, -1].map({ $0 * Float(total) }) { problems.append("allreduce Float \(floats.scalars)") }

    // Rank 0's values reach every rank.
    var broadcast = Tensor<Double>([Double(rank), 7, Double(-rank)])
    try world.broadcast(&broadcast, from: 0)
    if broadcast.scalars != [0, 7, 0] { problems.append("broadcast \(broadcast.scalars)") }

    // Every rank's pair, in rank order.
    let gathered = try world.allgather([Int64(rank), Int64(10 + rank)])
    if gathered != (0..<size).map({ [Int64($0), Int64(10 + $0)] }) { problems.append("allgather \(gathered)") }

    try world.barrier()
    try world.finalize()
    return problems.isEmpty ? ["rank \(rank) of \(size): collectives agree"] : problems.map { "rank \(rank): \($0)" }
}

do {
    switch CommandLine.arguments.dropFirst().first {
    case "mismatch":
        // Rank 1's Dense layer has one output more than rank 0's.
        let world = try Communicator.world()
        var g = SeededGenerator(seed: 1)
        let layers: [Layer<Double>] = [Flatten(), Dense(inputSize: 4, outputSize: world.rank == 1 ? 5 : 4, using: &g)]
        let network = try! NeuralNetwork(NeuralNetworkArchitecture(inputShape: [4], layers: layers))
        _ = try DataParallelTrainer(ClassifierTrainer(network: network, optimizer: SGD(network.parameters)), communicator: world)
        print("rank \(world.rank): no mismatch seen")
    case "die":
        // Rank 1 dies in the middle of the job while rank 0 waits in a collective.
        let world = try Communicator.world()
        if world.rank == 1 {
            Thread.sleep(forTimeInterval: 0.5)
            kill(getpid(), SIGKILL)
        }
        var value = Tensor<Double>([1])
        try world.allreduceSum(&value)
        print("rank \(world.rank): the allreduce returned")
    case "silent":
        // Rank 1 stays alive but never joins the collective named next (allreduce by default):
        // rank 0's watchdog must fire.
        let world = try Communicator.world(timeout: 2)
        if world.rank == 1 {
            Thread.sleep(forTimeInterval: 60)
        } else {
            var value = Tensor<Double>([1])
            switch CommandLine.arguments.dropFirst(2).first ?? "allreduce" {
            case "barrier": try world.barrier()
            case "broadcast": try world.broadcast(&value, from: 1)
            case "allgather": _ = try world.allgather([1])
            default: try world.allreduceSum(&value)
            }
        }
    case "allreduce-time":
        // The time of one allreduce of Float buffers of several sizes, for the cost model: rank 0
        // prints `bytes seconds` per size (the median of 31 timed allreduces after 5 untimed).
        let world = try Communicator.world()
        for count in [1 << 10, 1 << 14, 1 << 17, 421_642, 1 << 21] {
            var buffer = Tensor<Float>(repeating: 1, shape: [count])
            var times: [Double] = []
            for iteration in 0..<36 {
                try world.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                try world.allreduceSum(&buffer)
                if iteration >= 5 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
            }
            if world.rank == 0 { print("allreduce \(count * 4) bytes \(times.sorted()[times.count / 2]) s") }
        }
        try world.finalize()
    case "train-equality", "train-equality-autodiff", "train-equality-sync", "train-equality-sync-autodiff":
        let mode = CommandLine.arguments[1]
        let lines = try EqualityRun.runOnRanks(autodiff: mode.hasSuffix("autodiff"), synchronizedBatchNorm: mode.contains("sync"))
        for line in lines { print(line) }
    default:
        let lines = try run()
        for line in lines { print(line) }
        exit(lines.count == 1 && lines[0].hasSuffix("agree") ? 0 : 1)
    }
} catch {
    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
    exit(1)
}

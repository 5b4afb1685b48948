import ArgumentParser
import Foundation
import Nabla
import NablaDistributed

/// `nabla compare`: the main job. Trains the same seeded model twice, with the hand-written and
/// with the autodiff backward, and shows side by side that they train alike, and how fast.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one seeded model with the manual and with the autodiff backward, side by side.")

    @OptionGroup var options: TrainingOptions

    @Option(help: "Write both runs' loss curves here (SVG).")
    var plot: String?

    @Flag(help: "Train in Double instead of Float: slower, and the two paths' rounding drifts apart far less.")
    var double = false

    @Flag(help: "Train both runs data-parallel on the ranks of `mpirun -np N nabla compare --distributed …`.")
    var distributed = false

    func validate() throws { try OutputPath.check(plot, option: "--plot") }

    func run() throws {
        if double { try run(Double.self) } else { try run(Float.self) }
    }

    func run<Scalar: TensorScalar>(_ type: Scalar.Type) throws {
        options.applyThreads()
        let world = distributed ? try Communicator.world() : nil
        defer { try? world?.finalize() }
        let (train, test) = try options.loadData(as: type)
        let lead = (world?.rank ?? 0) == 0
        if lead {
            console.print("Comparing the manual and the autodiff backward: \(options.model) on \(train.count) training images, "
                + "\(options.epochs) epoch(s), \(options.optimizer) lr \(options.lr), batch \(options.batchSize)"
                + (world.map { " over \($0.size) ranks" } ?? "") + ", seed \(options.seed), \(Scalar.self), "
                + "\(BLAS.threadCount) BLAS thread(s)" + (world == nil ? "" : " per rank"))
            console.print()
        }
        let manual = try TrainingRun(options, useAutodiff: false, train: train, test: test, label: "manual   ", communicator: world)
        let autodiff = try TrainingRun(options, useAutodiff: true, train: train, test: test, label: "autodiff ", communicator: world)
        guard lead else { return }
        console.print()
        console.print(Self.report(manual, autodiff))
        if options.epochs < 5 || options.limit != nil {
            console.print()
            console.print("The full comparison (5 epochs on all 60,000 images, a few minutes per run):")
            console.print("  swift run -c release nabla compare --model \(options.model) --epochs 5 --batch-size \(options.batchSize)")
        }
        if let plot {
            try SVGPlot(panels: [
                .init(title: "Training loss per step", xLabel: "step", series: [
                    .init(name: "manual", points: manual.stepLosses.enumerated().map { (Double($0), Double($1)) }, color: "#1f77b4"),
                    .init(name: "autodiff", points: autodiff.stepLosses.enumerated().map { (Double($0), Double($1)) }, color: "#ff7f0e"),
                ]),
                .init(title: "Relative difference of the losses", xLabel: "step", series: [
                    .init(name: "|manual − autodiff| / manual", points: zip(manual.stepLosses, autodiff.stepLosses).enumerated().map {
                        (Double($0), Double(abs($1.0 - $1.1) / max(abs($1.0), .leastNormalMagnitude)))
                    }, color: "#2ca02c")]),
            ]).write(to: plot)
            console.print("Wrote \(plot)")
        }
    }

    static func report<Scalar>(_ manual: TrainingRun<Scalar>, _ autodiff: TrainingRun<Scalar>) -> String {
        let differences = zip(manual.stepLosses, autodiff.stepLosses).map {
            Double(abs($0 - $1)) / max(Double(abs($0)), Double(Scalar.leastNormalMagnitude))
        }
        let worst = differences.indices.max { differences[$0] < differences[$1] }
        let epoch = { (run: TrainingRun<Scalar>) in run.epochSeconds.reduce(0, +) / Double(run.epochSeconds.count) }
        let rows = [
            ["", "manual", "autodiff"],
            ["final train loss", String(format: "%.4f", manual.epochLosses.last!), String(format: "%.4f", autodiff.epochLosses.last!)],
            ["test accuracy", String(format: "%.2f%%", 100 * manual.testAccuracies.last!), String(format: "%.2f%%", 100 * autodiff.testAccuracies.last!)],
            ["time per epoch", format(seconds: epoch(manual)), format(seconds: epoch(autodiff))],
        ]
        let table = rows.map { row in
            row[0].padding(toLength: 18, withPad: " ", startingAt: 0) + row[1].leftPadded(to: 10) + row[2].leftPadded(to: 12)
        }
        return (table + [
            "autodiff / manual time: " + String(format: "%.2f", epoch(autodiff) / epoch(manual)),
            "largest relative difference between the loss curves: "
                + (worst.map { String(format: "%.2e at step %d of %d", differences[$0], $0 + 1, differences.count) } ?? "none"),
            "  over the first 50 steps: " + String(format: "%.2e", differences.prefix(50).max() ?? 0)
                + " (rounding differs between the paths; the curves drift apart slowly as training goes on)",
        ]).joined(separator: "\n")
    }
}

import BenchCatalog
import Benchmark
import Nabla

final class TransposeState: @unchecked Sendable {
    let shape: TransposeShape
    let source: AlignedBuffer<Float>
    let destination: AlignedBuffer<Float>
    let counter = IterationCounter()

    init(_ shape: TransposeShape) {
        self.shape = shape
        source = AlignedBuffer(randomCount: shape.rows * shape.columns, seed: 3)
        destination = AlignedBuffer(count: shape.rows * shape.columns)
    }

    func nabla() {
        BLAS.transpose(
            rows: shape.rows, columns: shape.columns, source: source.readOnly,
            destination: destination.pointer)
    }

    func naive() {
        NaiveKernels.transpose(
            rows: shape.rows, columns: shape.columns, source: source.readOnly,
            destination: destination.pointer)
    }

    func check() {
        nabla()
        let reference = AlignedBuffer<Float>(count: destination.pointer.count)
        _ = reference.pointer.update(fromContentsOf: destination.pointer)
        naive()
        checkAgreement(
            "transpose \(shape.label)", destination.readOnly, reference.readOnly, tolerance: 0)
    }
}

func registerTransposeBenchmarks() {
    for shape in Catalog.transposeShapes {
        Benchmark(shape.name, configuration: .timing(shape.kernels)) {
            (benchmark: Benchmark, state: TransposeState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.nabla), (.naive, state.naive)])
        } setup: {
            let state = TransposeState(shape)
            state.check()
            return state
        }
    }
}

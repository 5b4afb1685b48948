import BenchCatalog
import Benchmark
import Nabla
import RealModule

/// Two 1M-Float operands, as Tensors and as the same scalars in plain buffers.
final class ElementwiseState: @unchecked Sendable {
    let op: ElementwiseOp
    let count = Catalog.elementwiseCount
    let aBuffer: AlignedBuffer<Float>
    let bBuffer: AlignedBuffer<Float>
    let a: Tensor<Float>
    let b: Tensor<Float>
    let counter = IterationCounter()

    init(_ op: ElementwiseOp) {
        self.op = op
        aBuffer = AlignedBuffer(randomCount: count, seed: 4)
        bBuffer = AlignedBuffer(randomCount: count, seed: 5)
        a = Tensor(shape: [count], scalars: Array(aBuffer.readOnly))
        b = Tensor(shape: [count], scalars: Array(bBuffer.readOnly))
    }

    /// Nabla's generic Tensor API. The result tensor is allocated and freed inside the call.
    func nabla() {
        switch op {
        case .add: blackHole(a + b)
        case .multiply: blackHole(a * b)
        case .exp: blackHole(exp(a))
        case .sum: blackHole(a.sum().scalar)
        }
    }

    /// The same work written by hand over `UnsafeBufferPointer<Float>`. Like a Tensor op it
    /// allocates (64-byte aligned) and frees its result, so the ratio measures the abstraction,
    /// not the allocator. The sum is a plain sequential loop.
    func hand() {
        let x = aBuffer.readOnly, y = bBuffer.readOnly
        if op == .sum {
            var total: Float = 0
            for value in x { total += value }
            blackHole(total)
            return
        }
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        let output = UnsafeMutableBufferPointer(
            start: raw.bindMemory(to: Float.self, capacity: count), count: count)
        switch op {
        case .add: for i in 0..<count { output[i] = x[i] + y[i] }
        case .multiply: for i in 0..<count { output[i] = x[i] * y[i] }
        case .exp: for i in 0..<count { output[i] = Float.exp(x[i]) }
        case .sum: break
        }
        blackHole(output)
        raw.deallocate()
    }

    /// Checks Nabla against the hand-written loop once.
    func check() {
        let x = aBuffer.readOnly, y = bBuffer.readOnly
        switch op {
        case .add, .multiply, .exp:
            let result: Tensor<Float> = op == .add ? a + b : op == .multiply ? a * b : exp(a)
            let expected = (0..<count).map { i -> Float in
                op == .add ? x[i] + y[i] : op == .multiply ? x[i] * y[i] : Float.exp(x[i])
            }
            // Nabla's exp is vectorized (Cephes, within 2 ulp of libm); add and multiply are exact.
            let tolerance = op == .exp ? 4 * Double(Float.ulpOfOne) : 0
            result.withUnsafeBufferPointer { actual in
                expected.withUnsafeBufferPointer {
                    checkAgreement("elementwise \(op.rawValue)", actual, $0, tolerance: tolerance)
                }
            }
        case .sum:
            let total = x.reduce(0.0) { $0 + Double($1) }
            let difference = abs(Double(a.sum().scalar) - total)
            if !(difference <= 1e-3 * Double(count).squareRoot()) {
                fatalError("elementwise sum: \(a.sum().scalar) vs \(total)")
            }
        }
    }
}

func registerElementwiseBenchmarks() {
    for op in ElementwiseOp.allCases {
        Benchmark(op.name, configuration: .timing(op.kernels)) {
            (benchmark: Benchmark, state: ElementwiseState) in
            timeInterleaved(
                benchmark, iteration: state.counter.next(),
                rotating: [(.nabla, state.nabla), (.hand, state.hand)])
        } setup: {
            let state = ElementwiseState(op)
            state.check()
            return state
        }
    }
}

import Testing

@testable import Nabla

@Suite struct VectorKernelTests {
    /// The vector square root rounds as the scalar one does, lane by lane, with IEEE special
    /// values: −0 stays −0, a negative number and NaN give NaN, +∞ stays +∞.
    @Test func squareRootsMatchTheScalarRootBitForBit() {
        func check<S: TensorScalar>(_: S.Type) {
            var generator = SeededGenerator(seed: 11)
            let specials: [S] = [0, -0.0, 1, 2, -1, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
            let values = specials + (0..<22).map { _ in S(Double.random(in: 0..<1e6, using: &generator)) }
            for start in stride(from: 0, to: values.count - 7, by: 8) {
                let lanes = SIMD8<S>(values[start..<(start + 8)])
                let roots = ElementwiseKernels.squareRoots(lanes)
                for lane in 0..<8 {
                    let expected = lanes[lane].squareRoot()
                    #expect(
                        (roots[lane] == expected && roots[lane].sign == expected.sign) || (roots[lane].isNaN && expected.isNaN),
                        "\(S.self) √\(lanes[lane]): \(roots[lane]) vs \(expected)")
                }
            }
        }
        check(Float.self)
        check(Double.self)
    }

    /// Adam's vectorized update (eight at a time, then the tail) against the published rule
    /// computed by hand, over 21 parameters so that both parts run.
    @Test(arguments: [(0.9, 0.999, 1e-3), (0.5, 0.9, 1e-2)])
    func adamOverManyParametersFollowsTheRule(betas: (Double, Double, Double)) {
        var generator = SeededGenerator(seed: 5)
        let p0 = (0..<21).map { _ in Double.random(in: -2..<2, using: &generator) }
        let gradients = (0..<3).map { step in
            (0..<21).map { i in i == 3 ? 0 : Double.random(in: -1..<1, using: &generator) * Double(step + 1) }
        }
        let parameter = Parameter(name: "w", value: Tensor(p0))
        let optimizer = Adam([parameter], learningRate: betas.2, beta1: betas.0, beta2: betas.1)
        let actual = trajectory(optimizer, parameter, gradients)
        let expected = HandRules.adam(p0, gradients, lr: betas.2, beta1: betas.0, beta2: betas.1)
        for (step, (a, e)) in zip(actual, expected).enumerated() {
            for i in a.indices {
                #expect(Swift.abs(a[i] - e[i]) <= 1e-15 + 1e-13 * Swift.abs(e[i]), "step \(step + 1) element \(i): \(a[i]) vs \(e[i])")
            }
        }
    }
}

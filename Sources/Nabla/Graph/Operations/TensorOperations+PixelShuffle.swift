// Pixel shuffle on the tape: the same rearrangements as Tensor/PixelShuffling.swift, as reshape and
// permute ops.

extension TensorOperations {
    /// ``Nabla/pixelShuffle(_:upscaleFactor:)`` on the tape.
    public static func pixelShuffle(_ x: Variable<Scalar>, upscaleFactor r: Int) -> Variable<Scalar> {
        let s = x.shape
        Misuse.check(
            s.count == 4 && r > 0 && s[1] % (r * r) == 0, "pixelShuffle",
            "input \(s) and factor \(r): expected [N, C·\(r * r), H, W]")
        let split = reshape(x, to: [s[0], s[1] / (r * r), r, r, s[2], s[3]])
        return reshape(transpose(split, permutation: [0, 1, 4, 2, 5, 3]), to: [s[0], s[1] / (r * r), s[2] * r, s[3] * r])
    }

    /// ``Nabla/pixelUnshuffle(_:downscaleFactor:)`` on the tape.
    public static func pixelUnshuffle(_ x: Variable<Scalar>, downscaleFactor r: Int) -> Variable<Scalar> {
        let s = x.shape
        Misuse.check(
            s.count == 4 && r > 0 && s[2] % r == 0 && s[3] % r == 0, "pixelUnshuffle",
            "input \(s) and factor \(r): expected [N, C, H·\(r), W·\(r)]")
        let split = reshape(x, to: [s[0], s[1], s[2] / r, r, s[3] / r, r])
        return reshape(transpose(split, permutation: [0, 1, 3, 5, 2, 4]), to: [s[0], s[1] * r * r, s[2] / r, s[3] / r])
    }
}

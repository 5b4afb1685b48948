// Pixel shuffle: channels to space and back, as rearrangements (reshape, permute, reshape).

/// `[N, C·r², H, W]` to `[N, C, H·r, W·r]`: channel `c·r² + i·r + j` goes to the positions
/// `(h·r + i, w·r + j)` of channel `c`, as PyTorch's `pixel_shuffle`.
public func pixelShuffle<Scalar>(_ x: Tensor<Scalar>, upscaleFactor r: Int) -> Tensor<Scalar> {
    let s = x.shape
    Misuse.check(
        s.count == 4 && r > 0 && s[1] % (r * r) == 0, "pixelShuffle",
        "input \(s) and factor \(r): expected [N, C·\(r * r), H, W]")
    return x.reshaped(to: [s[0], s[1] / (r * r), r, r, s[2], s[3]]).transposed(permutation: [0, 1, 4, 2, 5, 3])
        .reshaped(to: [s[0], s[1] / (r * r), s[2] * r, s[3] * r])
}

/// The inverse of ``pixelShuffle(_:upscaleFactor:)``: `[N, C, H·r, W·r]` to `[N, C·r², H, W]`.
public func pixelUnshuffle<Scalar>(_ x: Tensor<Scalar>, downscaleFactor r: Int) -> Tensor<Scalar> {
    let s = x.shape
    Misuse.check(
        s.count == 4 && r > 0 && s[2] % r == 0 && s[3] % r == 0, "pixelUnshuffle",
        "input \(s) and factor \(r): expected [N, C, H·\(r), W·\(r)]")
    return x.reshaped(to: [s[0], s[1], s[2] / r, r, s[3] / r, r]).transposed(permutation: [0, 1, 3, 5, 2, 4])
        .reshaped(to: [s[0], s[1] * r * r, s[2] / r, s[3] / r])
}

// Brackets for the code of one level. On x86-64 the functions between them are compiled for that
// level's instructions (the package itself builds for baseline x86-64), and only called when the
// CPU has them. Elsewhere the same portable vector code is compiled without a target: linked, but
// never called, since SIMDLevel.supported is then `portable`.
#ifndef NABLA_LEVELS_H
#define NABLA_LEVELS_H

#if defined(__x86_64__)
#define NABLA_BEGIN_AVX2 \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define NABLA_BEGIN_AVX512 \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,avx512f,avx512dq,avx512bw,avx512vl\"))), apply_to = function)")
#define NABLA_END_LEVEL _Pragma("clang attribute pop")
#else
#define NABLA_BEGIN_AVX2
#define NABLA_BEGIN_AVX512
#define NABLA_END_LEVEL
#endif

#endif

// Compiles the template named by NABLA_TEMPLATE (a header path in quotes) once per level and
// scalar type: AVX2 and AVX-512, Float and Double. The template sees LEVEL (avx2 or avx512),
// VECTOR_BYTES (32 or 64), S (float or double), SCALAR_BYTES and SUFFIX (f32 or f64), and its
// functions are compiled for the level's instructions (see Levels.h). Defining
// NABLA_AVX512_ONLY first compiles only the AVX-512 level, for a kernel whose AVX2 version would
// not beat the portable path.
#include "Levels.h"

#ifndef NABLA_AVX512_ONLY
NABLA_BEGIN_AVX2
#define LEVEL avx2
#define VECTOR_BYTES 32
#include "EachScalar.h"
#undef VECTOR_BYTES
#undef LEVEL
NABLA_END_LEVEL
#endif

NABLA_BEGIN_AVX512
#define LEVEL avx512
#define VECTOR_BYTES 64
#include "EachScalar.h"
#undef VECTOR_BYTES
#undef LEVEL
NABLA_END_LEVEL

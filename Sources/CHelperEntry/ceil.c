// ceil(3) for the Embedded helper, so that LINK=dynamic needs libc.so.6 alone.
//
// The one libm function the helper uses is `ceil`, called by the Embedded standard library's
// hash tables (Dictionary and Set size their storage with it). For that one call ld.so would
// map, relocate and run the IFUNC resolvers of all of libm.so.6 at every start: about 60 us of a
// 0.8 ms start-up on the build machine (two spawn loops of a C program, with and without
// libm.so.6 in NEEDED). scripts/embedded-helper.sh links without -lm, so a use of any other
// libm function fails the link rather than bringing the library back.
//
// Exact for every double: below 2^52 in magnitude the value truncated toward zero is exactly
// representable in a 64-bit integer; at or above 2^52 every double is already an integer (and
// NaN and the infinities are returned as they are). A negative value that rounds up to zero
// gives -0.0, as C requires. Checked against glibc's ceil over edge cases and random bit
// patterns by Tests/Integration/t-linking.sh (BK_CEIL_TEST_NAME below gives it another name there).
#if defined(BRIDGEKEEPER_EMBEDDED) || defined(BK_CEIL_TEST_NAME)

#ifndef BK_CEIL_TEST_NAME
#define BK_CEIL_TEST_NAME ceil
#endif

double BK_CEIL_TEST_NAME(double x) {
    if (!(__builtin_fabs(x) < 0x1p52)) return x;
    double truncated = (double)(long long)x;
    if (truncated < x) truncated += 1.0;
    return __builtin_copysign(truncated, x);
}

#endif

# Sourced by scripts/package: the one build environment every native artifact is compiled in.
# Same target triple, profile (`dist`: release + strip), compiler and linker (zig for glibc
# 2.17, ./zig), so `cargo` reuses one compile of the dependency graph across the Python
# extension, the Node addon, the C ABI library and the CLI.
pkg_d=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$pkg_d/../.." && pwd)
export MESHTLS_PACKAGE_VENV=${MESHTLS_PACKAGE_VENV:-$root/target/package-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
TRIPLE=x86_64-unknown-linux-gnu
PROFILE=dist
export CC_x86_64_unknown_linux_gnu=$pkg_d/zig/cc
export CXX_x86_64_unknown_linux_gnu=$pkg_d/zig/c++
export AR_x86_64_unknown_linux_gnu=$pkg_d/zig/ar
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER=$pkg_d/zig/cc
CARGO_ZIGBUILD_RUSTC_VERSION=$(rustc -V | awk '{print $2}')
export CARGO_ZIGBUILD_RUSTC_VERSION
export NATIVE_OUT=$CARGO_TARGET_DIR/$TRIPLE/$PROFILE

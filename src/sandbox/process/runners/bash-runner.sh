# One-shot runner: waits until the host says go on fd 4 (the program's
# arguments, each ending in NUL, then EOF), then runs /run/codemode/main.sh
# with them in this shell.
args=()
while IFS= read -r -d '' -u 4 arg; do args+=("$arg"); done
exec 4<&-
unset arg
BASH_ARGV0=/run/codemode/main.sh
set -- "${args[@]}"
unset args
source /run/codemode/main.sh

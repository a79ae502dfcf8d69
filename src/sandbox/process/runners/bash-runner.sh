# One-shot runner: waits until the host says go on fd 4 (a limits record, then
# the program's arguments, each ending in NUL, then EOF), sets the run's rlimits
# from the record (soft and hard, as the launcher does: a pre-started runner
# starts with looser ones), then runs /run/codemode/main.sh with them in this shell.
IFS= read -r -d '' -u 4 limits || { echo "codemode-sandbox: no go message" >&2; exit 125; }
case $limits in codemode-limits:*) ;; *) echo "codemode-sandbox: the go message has no limits record" >&2; exit 125 ;; esac
l=${limits#codemode-limits:}
cpu=${l%%:*}
l=${l#*:}
nofile=${l%%:*}
fsize=${l#*:}
if [ -n "$cpu" ]; then
  ulimit -S -t "$cpu" && ulimit -H -t $((cpu + 1)) || { echo "codemode-sandbox: could not set the CPU limit" >&2; exit 125; }
fi
ulimit -n "$nofile" -f "$fsize" || { echo "codemode-sandbox: could not set the run's limits" >&2; exit 125; }
unset limits l cpu nofile fsize
args=()
while IFS= read -r -d '' -u 4 arg; do args+=("$arg"); done
exec 4<&-
unset arg
# The code's directory: /run/codemode in the sandbox, a host directory when unsandboxed.
BASH_ARGV0=${CODEMODE_RUN_DIR:-/run/codemode}/main.sh
unset CODEMODE_RUN_DIR
set -- "${args[@]}"
unset args
source "$0"

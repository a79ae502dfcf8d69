# codemode bash session kernel: one persistent shell (cwd, variables, functions
# persist). Reads "<id>\n<marker>\n<code>\0" requests from the control fd and
# answers with a JSON 'done' frame after writing the end marker to fd 1 and 2.
__cm_fd="${CODEMODE_CONTROL_FD:-3}"
unset CODEMODE_CONTROL_FD
__cm_interrupted=0
trap '__cm_interrupted=1' INT
printf '{"type":"ready","pid":%d,"language":"bash"}\n' "$$" >&"$__cm_fd"
while true; do
  IFS= read -r -u "$__cm_fd" __cm_id || exit 0
  IFS= read -r -u "$__cm_fd" __cm_marker || exit 0
  IFS= read -r -d '' -u "$__cm_fd" __cm_code || exit 0
  __cm_interrupted=0
  eval "$__cm_code" </dev/null {__cm_fd}>&-
  __cm_status=$?
  printf '%s' "$__cm_marker"
  printf '%s' "$__cm_marker" >&2
  printf '{"type":"done","id":"%s","exitCode":%d,"interrupted":%s}\n' "$__cm_id" "$__cm_status" \
    "$([ "$__cm_interrupted" = 1 ] && echo true || echo false)" >&"$__cm_fd"
done

# Sourced by bench/gate.sh and bench/gate_callgrind.sh once $token is set:
# the headers every request of the load carries, in `headers` (wrk's -H
# arguments). The session cookie alone; with BROWSER=1, what a browser
# sends with a page request (Chrome's fifteen headers, the app's own
# cookies beside koogate's).
# shellcheck shell=bash
headers=(-H "Cookie: koogate_session=$token")
if [ -n "${BROWSER:-}" ]; then
  headers=(
    -H "Connection: keep-alive"
    -H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"'
    -H "sec-ch-ua-mobile: ?0"
    -H 'sec-ch-ua-platform: "Linux"'
    -H "Upgrade-Insecure-Requests: 1"
    -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
    -H "Sec-Fetch-Site: same-origin"
    -H "Sec-Fetch-Mode: navigate"
    -H "Sec-Fetch-User: ?1"
    -H "Sec-Fetch-Dest: document"
    -H "Referer: http://gate.example.com/reports"
    -H "Accept-Encoding: gzip, deflate, br, zstd"
    -H "Accept-Language: zh-CN,zh;q=0.9,en;q=0.8"
    -H "Cookie: app_lang=zh-CN; koogate_session=$token; app_theme=dark"
  )
fi

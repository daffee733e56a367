// The tracker's install snippet for a write key, as the README gives it: the loader stub, then
// cdp.load with the key and the API's address, then the first page view.

export function installSnippet(writeKey, host) {
  const at = JSON.stringify(host);
  return [
    "<script>",
    '!function(w,d,u){var c=w.cdp=w.cdp||{q:[]};if(!c.q)return;"load page track identify alias group reset consent ask bind".split(" ").forEach(function(m){c[m]=c[m]||function(){c.q.push([m,[].slice.call(arguments)])}});var s=d.createElement("script");s.async=1;s.src=u+"/v1/cdp.js";d.head.appendChild(s)}' +
      `(window,document,${at});`,
    `cdp.load(${JSON.stringify(writeKey)},{host:${at}});cdp.page();`,
    "</script>",
  ].join("\n");
}

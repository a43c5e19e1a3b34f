/* report.js: draws the organization matrix and the findings list of report.html from its JSON data
   block. Inlined into the page and allowed by hash in its CSP.

   Every string in the data came from AWS and is attacker-controlled: it is only ever written with
   textContent, option.label or setAttribute on inert attributes (title, aria-label, value), and
   links are made only for https: URLs from rule packs. Never innerHTML, never insertAdjacentHTML.
   The shipped text must not contain a less-than sign followed by a slash (see html.py:_asset). */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var rules = data.rules;
  var accounts = data.accounts; // [id, name, cells, is_management, skip_reason]
  var MATRIX_PAGE = 100;
  var FINDINGS_PAGE = 50;
  var CELL_NAMES = { F: "fail", E: "error", S: "suppressed", P: "pass", K: "skipped", ".": "no result" };
  var CELL_TEXT = { F: "F", E: "E", S: "S", P: "P", K: "\u2013", ".": "\u00b7" };
  var PROBLEMS = { fail: true, error: true, suppressed: true };
  var BASELINE = data.baseline; // the baseline run id, or null when the run was not compared

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function add(parent, child) { parent.appendChild(child); return child; }

  // Prose that names identifiers (ARNs, API names, rule ids): a browser may break a line after a "/",
  // ":" or "-" inside one, so each word holding one is kept whole in a nowrap span. Text only, never markup.
  function prose(tag, className, text) {
    var node = el(tag, className);
    // Word by word (linear in the text, whatever it holds), as html.py's keep_whole decides.
    String(text === undefined || text === null ? "" : text).split(/(\s+)/).forEach(function (part) {
      if (!part) { return; }
      var body = part.slice(0, -1);
      var identifier = !/^\s/.test(part) && (body.indexOf(":") !== -1 || body.indexOf("/") !== -1 ||
                                            /\b[A-Z][A-Z0-9]*-\d{3,}\b/.test(part));
      if (identifier) { add(node, el("span", "nb", part)); } else { node.appendChild(document.createTextNode(part)); }
    });
    return node;
  }

  function button(text, className) {
    var node = el("button", className, text);
    node.type = "button";
    return node;
  }

  function number(n) { return n.toLocaleString("en-US"); }

  // "2026-01-01T00:00:05Z" -> "2026-01-01 00:00:05 UTC", as in the header; anything else unchanged.
  function utc(text) {
    return /^[^T]+T.*Z$/.test(text) ? text.slice(0, -1).replace("T", " ") + " UTC" : text;
  }

  // A sentence of scanner/report/wording.py (given in the data, never built here) at the start of a line.
  function sentence(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // ---- findings: fail/error/suppressed documents and compact skipped rows, in one shape --------
  var findings = [];
  data.findings.forEach(function (f) {
    findings.push({ a: f.a, r: f.r, status: f.doc.status, severity: f.doc.severity, doc: f.doc,
                    parts: f.parts || null, message: f.doc.message, says: f.says || {}, text: null });
  });
  data.skipped.forEach(function (s) {
    findings.push({ a: s[0], r: s[1], status: "skipped", severity: s[2], doc: null, parts: null,
                    message: data.messages[s[3]], says: {}, text: null });
  });
  findings.forEach(function (f, i) { f.id = i; });

  var accountTexts = [];
  function accountText(a) {
    if (accountTexts[a] === undefined) { accountTexts[a] = (accounts[a][0] + " " + accounts[a][1]).toLowerCase(); }
    return accountTexts[a];
  }

  function accountLabel(a) {
    var row = accounts[a];
    return (row[1] ? row[1] + " (" + row[0] + ")" : row[0]) + (row[3] ? " \u2013 management account" : "");
  }

  function haystack(f) {
    if (f.text === null) {
      var rule = rules[f.r];
      var bits = [rule.id, rule.title, accountText(f.a), f.status, f.severity, f.message];
      if (f.doc) {
        bits.push(f.doc.resource_name, f.doc.resource_arn, f.doc.resource_type, JSON.stringify(f.doc.evidence),
                  JSON.stringify(f.doc.causes), JSON.stringify(f.doc.suppression));
        if (f.doc.baseline) { bits.push(f.doc.baseline, f.doc.first_seen || ""); }
        if (f.doc.expired_suppression) { bits.push("suppression expired", JSON.stringify(f.doc.expired_suppression)); }
        Object.keys(f.says).forEach(function (k) { bits.push(f.says[k]); });
      }
      if (f.parts) { f.parts.forEach(function (p) { bits.push(p[0]); }); }
      f.text = bits.join("\n").toLowerCase();
    }
    return f.text;
  }

  // An exact 12-digit id (what a matrix click or the suggestions put in) matches only that account.
  function accountMatcher(query) {
    var q = query.trim().toLowerCase();
    if (!q) { return null; }
    if (/^\d{12}$/.test(q)) { return function (a) { return accounts[a][0] === q; }; }
    return function (a) { return accountText(a).indexOf(q) !== -1; };
  }

  // ---- pager ----------------------------------------------------------------------------------
  function drawPager(container, page, pages, go, noun) {
    clear(container);
    if (pages <= 1) { return; }
    var first = add(container, button("\u00ab First"));
    var prev = add(container, button("\u2039 Previous"));
    add(container, el("span", null, "Page " + number(page + 1) + " of " + number(pages)));
    var next = add(container, button("Next \u203a"));
    var last = add(container, button("Last \u00bb"));
    first.setAttribute("aria-label", "First page of " + noun);
    prev.setAttribute("aria-label", "Previous page of " + noun);
    next.setAttribute("aria-label", "Next page of " + noun);
    last.setAttribute("aria-label", "Last page of " + noun);
    first.disabled = prev.disabled = page === 0;
    next.disabled = last.disabled = page >= pages - 1;
    first.addEventListener("click", function () { go(0); });
    prev.addEventListener("click", function () { go(page - 1); });
    next.addEventListener("click", function () { go(page + 1); });
    last.addEventListener("click", function () { go(pages - 1); });
  }

  // ---- organization matrix ------------------------------------------------------------------
  var problemAccounts = [];
  var otherAccounts = [];
  accounts.forEach(function (row, i) { (/[FE]/.test(row[2]) ? problemAccounts : otherAccounts).push(i); });
  var allAccounts = problemAccounts.concat(otherAccounts); // problems first, then listing order
  var matrix = { q: "", problemsOnly: problemAccounts.length > 0, page: 0 };

  function drawMatrixHead() {
    var head = $("matrix-table").tHead;
    var tr = add(head, el("tr"));
    var corner = add(tr, el("th", "acct", "Account"));
    corner.scope = "col";
    rules.forEach(function (rule) {
      var th = add(tr, el("th", null, rule.id));
      th.scope = "col";
      th.setAttribute("title", rule.title + " (" + rule.severity + ")");
    });
  }

  function matrixRows() {
    var base = matrix.problemsOnly ? problemAccounts : allAccounts;
    var match = accountMatcher(matrix.q);
    return match ? base.filter(match) : base;
  }

  function drawMatrix() {
    var rows = matrixRows();
    var pages = Math.max(1, Math.ceil(rows.length / MATRIX_PAGE));
    matrix.page = Math.min(matrix.page, pages - 1);
    // Printed evidence holds every account of the chosen selection, not just the page on screen.
    var start = printing ? 0 : matrix.page * MATRIX_PAGE;
    var slice = printing ? rows : rows.slice(start, start + MATRIX_PAGE);
    var table = $("matrix-table");
    var body = el("tbody");
    slice.forEach(function (a) {
      var row = accounts[a];
      var tr = add(body, el("tr"));
      var th = add(tr, el("th", "acct"));
      th.scope = "row";
      add(th, el("span", "acct-name", row[1] || "(no name)"));
      add(th, document.createTextNode(" "));
      add(th, el("span", "acct-id", row[0]));
      if (row[3]) { add(th, el("div", "acct-note", "management account")); }
      if (row[4]) { add(th, el("div", "acct-note", "not scanned: " + row[4])); }
      for (var r = 0; r < rules.length; r++) {
        var code = row[2].charAt(r) || ".";
        var td = add(tr, el("td", "cell c-" + (code === "." ? "none" : code)));
        var label = rules[r].id + " in " + (row[1] || row[0]) + ": " + CELL_NAMES[code];
        td.setAttribute("title", label);
        if (code === "F" || code === "E" || code === "S" || code === "K") {
          var b = add(td, button(CELL_TEXT[code]));
          b.setAttribute("aria-label", label + " \u2013 show findings");
          b.setAttribute("data-a", String(a));
          b.setAttribute("data-r", String(r));
          b.setAttribute("data-code", code);
        } else {
          td.textContent = CELL_TEXT[code];
        }
      }
    });
    if (!slice.length) {
      var empty = add(add(body, el("tr")), el("td", "empty", matrix.problemsOnly && !matrix.q
        ? "No account has a failing or unevaluated rule." : "No account matches."));
      empty.colSpan = rules.length + 1;
    }
    table.replaceChild(body, table.tBodies[0]);
    var scope = matrix.problemsOnly ? " with problems" : "";
    $("m-status").textContent = rows.length
      ? "Showing accounts " + number(start + 1) + "\u2013" + number(start + slice.length) + " of " + number(rows.length) +
        scope + (matrix.q ? " matching \u201c" + matrix.q + "\u201d" : "") + " (" + number(problemAccounts.length) +
        " of " + number(accounts.length) + " accounts have a failing or unevaluated rule)."
      : "No accounts to show" + scope + ".";
    drawPager($("m-pager"), matrix.page, pages, function (p) { matrix.page = p; drawMatrix(); }, "accounts");
  }

  // ---- findings list ------------------------------------------------------------------------
  var filters = { severity: "", status: "problems", account: "", rule: "", baseline: "", q: "", page: 0 };
  var expanded = {};
  var printing = false;

  function readFilters() {
    filters.severity = $("f-severity").value;
    filters.status = $("f-status").value;
    filters.account = $("f-account").value;
    filters.rule = $("f-rule").value;
    filters.baseline = $("f-baseline") ? $("f-baseline").value : "";
    filters.q = $("f-query").value;
    filters.page = 0;
  }

  function matching() {
    var account = accountMatcher(filters.account);
    var q = filters.q.trim().toLowerCase();
    return findings.filter(function (f) {
      if (filters.severity && f.severity !== filters.severity) { return false; }
      if (filters.status === "problems" ? !PROBLEMS[f.status] : filters.status && f.status !== filters.status) {
        return false;
      }
      if (filters.rule && rules[f.r].id !== filters.rule) { return false; }
      if (filters.baseline && !(f.doc && f.doc.baseline === filters.baseline)) { return false; }
      if (account && !account(f.a)) { return false; }
      return !q || haystack(f).indexOf(q) !== -1;
    });
  }

  function describeFilters() {
    var parts = [];
    if (filters.severity) { parts.push("severity " + filters.severity); }
    parts.push("status " + (filters.status === "problems" ? "fail, error or suppressed" : filters.status || "any but pass"));
    if (filters.account.trim()) { parts.push("account \u201c" + filters.account.trim() + "\u201d"); }
    if (filters.rule) { parts.push("rule " + filters.rule); }
    if (filters.baseline) { parts.push(filters.baseline + " since the baseline"); }
    if (filters.q.trim()) { parts.push("text \u201c" + filters.q.trim() + "\u201d"); }
    return parts.join("; ");
  }

  function drawFindings() {
    var list = matching();
    var pages = Math.max(1, Math.ceil(list.length / FINDINGS_PAGE));
    filters.page = Math.min(filters.page, pages - 1);
    var start = printing ? 0 : filters.page * FINDINGS_PAGE;
    var shown = printing ? list : list.slice(start, start + FINDINGS_PAGE);
    var fragment = document.createDocumentFragment();
    shown.forEach(function (f) { fragment.appendChild(findingElement(f, printing || expanded[f.id] === true)); });
    var container = $("findings-list");
    clear(container);
    if (!shown.length) { add(container, el("p", "empty", "No finding matches these filters.")); }
    container.appendChild(fragment);
    $("f-status-line").textContent = (list.length
      ? "Showing findings " + number(start + 1) + "\u2013" + number(start + shown.length) + " of " + number(list.length) + " matching"
      : "No findings match") + " (filters: " + describeFilters() + "); " + number(findings.length) + " findings in all.";
    drawPager($("f-pager"), filters.page, printing ? 1 : pages,
              function (p) { filters.page = p; drawFindings(); $("findings-h").scrollIntoView(); }, "findings");
  }

  function item(dl, term, value, className) {
    add(dl, el("dt", null, term));
    add(dl, el("dd", className, value));
  }

  function findingElement(f, open) {
    var rule = rules[f.r];
    var article = el("article", "finding st-" + f.status);
    article.setAttribute("data-status", f.status);
    article.setAttribute("data-severity", f.severity);
    var head = add(article, el("div", "finding-head"));
    add(head, el("span", "badge st-" + f.status, f.status));
    add(head, el("span", "sev sev-" + f.severity, f.severity));
    if (f.doc && f.doc.baseline) {
      var mark = add(head, el("span", "badge bl-" + (f.doc.baseline === "new" ? "new" : "unchanged"), f.doc.baseline));
      mark.setAttribute("title", sentence(f.says.baseline) + " run " + BASELINE +
                                 (f.doc.first_seen ? "; first seen " + utc(f.doc.first_seen) : ""));
    }
    add(head, el("h3", null, rule.id + " \u2013 " + rule.title));
    var toggle = add(head, button(open ? "Hide details" : "Show details", "toggle"));
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    toggle.setAttribute("aria-controls", "finding-" + f.id);
    toggle.setAttribute("data-id", String(f.id));
    var where = "Account " + accountLabel(f.a);
    if (f.doc) { where += " \u00b7 " + f.doc.resource_type + " " + f.doc.resource_name; }
    add(head, el("div", "where", where));
    add(head, prose("div", "msg", f.message));
    if (f.doc && f.doc.expired_suppression) {
      add(head, el("div", "expired-note", sentence(f.says.expired) + "."));
    }
    var body = add(article, el("div", "finding-body"));
    body.id = "finding-" + f.id;
    body.hidden = !open;
    findingBody(f, rule, body);
    return article;
  }

  function findingBody(f, rule, body) {
    var d = f.doc;
    var dl = add(body, el("dl"));
    item(dl, "Rule", rule.id + " \u2013 " + rule.title + (rule.pack ? " (pack " + rule.pack + ")" : ""));
    item(dl, "Account", accountLabel(f.a));
    if (d) {
      item(dl, "Resource", d.resource_name);
      item(dl, "ARN", d.resource_arn, "mono");
      item(dl, "Resource type", d.resource_type, "mono");
    }
    add(dl, el("dt", null, f.status === "skipped" ? "Reason skipped" : "Result"));
    add(dl, prose("dd", null, f.message));
    if (d && d.baseline) {
      add(dl, el("dt", null, "Baseline"));
      add(add(dl, el("dd", null, f.says.baseline + " run ")), el("span", "nb", BASELINE));  // the id kept whole
      item(dl, "First seen", d.first_seen ? utc(d.first_seen) : "unknown");
    }
    if (d && d.expired_suppression) {
      var xs = d.expired_suppression;
      var xbox = add(body, el("div", "box box-expired"));
      add(xbox, el("p", "box-title", sentence(f.says.expired)));
      add(xbox, el("p", null, "Entry: " + (xs.source || "(no source recorded)") + ", rule " + xs.rule_id));
      add(xbox, el("p", null, "Scope: " + f.says.scope));
      add(xbox, el("p", null, "Reason: " + xs.reason));
      add(xbox, el("p", null, "Owner: " + xs.owner));
      add(xbox, el("p", null, "Expired on: " + xs.expires));
    }
    if (d && d.suppression) {
      var s = d.suppression;
      var box = add(body, el("div", "box box-suppressed"));
      add(box, el("p", "box-title", sentence(f.says.accepted)));
      add(box, el("p", null, "Reason: " + s.reason));
      add(box, el("p", null, "Owner: " + s.owner));
      add(box, el("p", null, "Expires: " + s.expires));
      add(box, el("p", null, "Scope: " + f.says.scope));
      if (s.source) { add(box, el("p", null, "Entry: " + s.source)); }
    }
    if (d && d.status === "error") {
      var ebox = add(body, el("div", "box box-error"));
      add(ebox, el("p", "box-title", "Could not be evaluated \u2013 this is not a pass"));
      if (d.causes.length) {
        var ul = add(ebox, el("ul"));
        d.causes.forEach(function (c) {
          add(ul, el("li", null, c.api + (c.resource ? " on " + c.resource : "") + ": " + c.code + ": " + c.message +
                                 (c.account_id ? " (account " + c.account_id + ")" : "")));
        });
      } else {
        add(ebox, el("p", null, d.message));
      }
    }
    if (d && d.evidence.length) {
      add(body, el("h4", null, "Evidence"));
      var table = add(body, el("table"));
      var hr = add(add(table, el("thead")), el("tr"));
      ["Path", "Expected", "Found"].forEach(function (t) { add(hr, el("th", null, t)).scope = "col"; });
      var tb = add(table, el("tbody"));
      d.evidence.forEach(function (e) {
        var tr = add(tb, el("tr"));
        add(tr, el("td", "mono", e.path));
        add(tr, el("td", null, e.expected));
        add(add(tr, el("td")), el("pre", null, JSON.stringify(e.found, null, 2)));
      });
    }
    if (f.parts) {
      add(body, el("h4", null, "Policy document"));
      add(body, el("p", "hint", "Marked \u201coffending statement\u201d: the statements granting a principal that was found " +
                                "but not expected (every statement when none can be singled out)."));
      var pre = add(body, el("pre", "doc"));
      f.parts.forEach(function (p) { add(pre, el(p[1] ? "mark" : "span", p[1] ? "offending" : null, p[0])); });
    }
    if (rule.description) {
      add(body, el("h4", null, "About this rule"));
      add(body, prose("p", null, rule.description));
      if (rule.rationale) { add(body, prose("p", null, "Why it matters: " + rule.rationale)); }
    }
    if ((f.status === "fail" || f.status === "suppressed") && rule.remediation) {
      add(body, el("h4", null, "Remediation"));
      add(body, prose("p", null, rule.remediation.text));
      if (rule.remediation.command) {
        var cmd = add(body, el("div", "command"));
        add(add(cmd, el("pre")), el("code", null, rule.remediation.command));
        var copy = add(cmd, button("Copy command", "copy"));
        copy.setAttribute("aria-label", "Copy the remediation command for " + rule.id);
        add(body, el("div", "copy-status")).setAttribute("aria-live", "polite");
      }
    }
    if (rule.references && rule.references.length) {
      add(body, el("h4", null, "References"));
      var refs = add(body, el("ul"));
      rule.references.forEach(function (ref) {
        var li = add(refs, el("li"));
        if (/^https:\/\/[^\s]+$/i.test(ref.url)) {
          var link = add(li, el("a", null, ref.title));
          link.setAttribute("href", ref.url);
          link.setAttribute("rel", "noopener noreferrer");
          add(li, el("span", "mono", " " + ref.url));
        } else {
          li.textContent = ref.title + " " + ref.url;
        }
      });
    }
    var frameworks = rule.compliance ? Object.keys(rule.compliance) : [];
    if (frameworks.length) {
      add(body, el("p", null, "Compliance: " + frameworks.map(function (k) {
        return k + " " + rule.compliance[k].join(", ");
      }).join("; ")));
    }
  }

  // ---- copy to clipboard: never throws, even without clipboard permission ----------------------
  function copyFallback(text) {
    var area = el("textarea", "offscreen");
    area.value = text;
    area.setAttribute("readonly", "");
    document.body.appendChild(area);
    var ok = false;
    try {
      area.select();
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function selectText(node) {
    try {
      var range = document.createRange();
      range.selectNodeContents(node);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    } catch (e) { /* selection is a convenience only */ }
  }

  function copyCommand(copyButton) {
    var box = copyButton.parentNode;
    var code = box.querySelector("code");
    var status = box.nextSibling;
    var text = code.textContent;
    function done(ok) {
      if (ok) {
        status.textContent = "Copied to the clipboard.";
      } else {
        selectText(code);
        status.textContent = "Copying is not allowed here: the command is selected, press Ctrl+C (\u2318C) to copy it.";
      }
    }
    try {
      if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
        navigator.clipboard.writeText(text).then(function () { done(true); },
                                                 function () { done(copyFallback(text)); });
        return;
      }
    } catch (e) { /* fall through to the fallback */ }
    done(copyFallback(text));
  }

  // ---- wiring ---------------------------------------------------------------------------------
  function fillRuleFilter() {
    var select = $("f-rule");
    rules.forEach(function (rule) {
      var option = add(select, el("option", null, rule.id + " \u2013 " + rule.title));
      option.value = rule.id;
    });
  }

  function fillAccountSuggestions() {
    var seen = {};
    var list = $("f-accounts");
    findings.forEach(function (f) {
      if (!PROBLEMS[f.status] || seen[f.a]) { return; }
      seen[f.a] = true;
      var option = add(list, el("option"));
      option.value = accounts[f.a][0];
      option.label = accounts[f.a][1];
    });
  }

  function showFindingsFor(a, r, code) {
    $("f-severity").value = "";
    $("f-status").value = code === "K" ? "skipped" : "problems";
    $("f-account").value = accounts[a][0];
    $("f-rule").value = rules[r].id;
    $("f-query").value = "";
    readFilters();
    drawFindings();
    $("findings-h").scrollIntoView();
  }

  function setPrinting(on) {
    if (printing === on) { return; }
    printing = on;
    drawMatrix();
    drawFindings();
  }

  function start() {
    drawMatrixHead();
    $("m-problems").checked = matrix.problemsOnly;
    $("m-query").addEventListener("input", function (e) { matrix.q = e.target.value; matrix.page = 0; drawMatrix(); });
    $("m-problems").addEventListener("change", function (e) { matrix.problemsOnly = e.target.checked; matrix.page = 0; drawMatrix(); });
    $("matrix-table").addEventListener("click", function (e) {
      var target = e.target.closest("button[data-a]");
      if (target) {
        showFindingsFor(Number(target.getAttribute("data-a")), Number(target.getAttribute("data-r")),
                        target.getAttribute("data-code"));
      }
    });
    fillRuleFilter();
    fillAccountSuggestions();
    ["f-severity", "f-status", "f-rule", "f-baseline"].forEach(function (id) {
      if ($(id)) { $(id).addEventListener("change", function () { readFilters(); drawFindings(); }); }
    });
    ["f-account", "f-query"].forEach(function (id) {
      $(id).addEventListener("input", function () { readFilters(); drawFindings(); });
    });
    $("f-reset").addEventListener("click", function () {
      $("f-severity").value = "";
      $("f-status").value = "problems";
      $("f-account").value = "";
      $("f-rule").value = "";
      if ($("f-baseline")) { $("f-baseline").value = ""; }
      $("f-query").value = "";
      readFilters();
      drawFindings();
    });
    $("f-expand").addEventListener("click", function () {
      matching().forEach(function (f) { expanded[f.id] = true; });
      drawFindings();
    });
    $("f-collapse").addEventListener("click", function () { expanded = {}; drawFindings(); });
    $("findings-list").addEventListener("click", function (e) {
      var copy = e.target.closest("button.copy");
      if (copy) { copyCommand(copy); return; }
      var toggle = e.target.closest("button.toggle");
      if (toggle) {
        var body = $(toggle.getAttribute("aria-controls"));
        var open = body.hidden;
        body.hidden = !open;
        expanded[toggle.getAttribute("data-id")] = open;
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        toggle.textContent = open ? "Hide details" : "Show details";
      }
    });
    // Print shows every matching finding, expanded: `beforeprint` for the print dialog, the media
    // query for tools that print without firing it.
    window.addEventListener("beforeprint", function () { setPrinting(true); });
    window.addEventListener("afterprint", function () { setPrinting(false); });
    if (window.matchMedia) {
      var media = window.matchMedia("print");
      if (media.addEventListener) { media.addEventListener("change", function (e) { setPrinting(e.matches); }); }
    }
    readFilters();
    drawMatrix();
    drawFindings();
    window.__reportReadyAt = performance.now();
    window.__reportReady = true;
    document.documentElement.setAttribute("data-report-ready", "true");
  }

  start();
}());

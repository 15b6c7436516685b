/* persian-ie viewer: hover previews a span, click pins it. The tip shows the
   label, score, difference from gold, relations and enclosing spans; the
   spans a relation links to are outlined. Installed once per page, so many
   notebook outputs share it. No network, no dependencies. */
(function () {
  if (window.__pieViewer) return;
  window.__pieViewer = true;
  var cache = new WeakMap();
  var names = null;
  var tip = null;
  var pinned = false;

  function getNames() {
    if (!names) {
      var el = document.getElementById("pie-names");
      names = el ? JSON.parse(el.textContent) : { labels: {}, relations: {}, kinds: {} };
    }
    return names;
  }

  function docData(root) {
    var d = cache.get(root);
    if (d) return d;
    d = JSON.parse(root.querySelector("script.pie-data").textContent);
    d.out = {}; d.inc = {};
    d.relations.forEach(function (r) {
      (d.out[r[1]] = d.out[r[1]] || []).push([r[0], r[2]]);
      (d.inc[r[2]] = d.inc[r[2]] || []).push([r[0], r[1]]);
    });
    cache.set(root, d);
    return d;
  }

  function elementsOf(root, key) {
    return root.querySelectorAll('.sp[data-s="' + CSS.escape(key) + '"]');
  }

  function clear() {
    document.querySelectorAll(".pie-doc .sp.sel, .pie-doc .sp.linked").forEach(function (el) {
      el.classList.remove("sel", "linked");
    });
    if (tip) tip.hidden = true;
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function spanButton(root, key, text) {
    var b = el("button", "«" + text + "»");
    b.type = "button";
    b.addEventListener("click", function (ev) { ev.stopPropagation(); select(root, key, true, true); });
    return b;
  }

  function labelName(label) {
    var n = getNames().labels[label];
    return n ? n + " (" + label + ")" : label;
  }

  function fillTip(root, key, first) {
    var d = docData(root), s = d.spans[key] || {}, n = getNames();
    tip.textContent = "";
    var head = el("div");
    var sw = el("span", "", "swatch");
    sw.style.setProperty("--c", getComputedStyle(first).getPropertyValue("--c"));
    head.appendChild(sw);
    head.appendChild(el("b", labelName(s.label)));
    head.appendChild(el("span", " «" + s.text + "»"));
    tip.appendChild(head);
    if (s.score !== undefined) tip.appendChild(el("div", "امتیاز: " + s.score.toFixed(2)));
    if (s.kind) {
      var k = el("div", "مقایسه با مرجع: " + (n.kinds[s.kind] || s.kind));
      if (s.other) k.appendChild(el("span", " — مرجع: " + labelName(s.other.label) + " «" + s.other.text + "»"));
      tip.appendChild(k);
    }
    var list = el("ul");
    (d.out[key] || []).forEach(function (r) {
      var li = el("li", (n.relations[r[0]] || r[0]) + ": ");
      li.appendChild(spanButton(root, r[1], (d.spans[r[1]] || {}).text || r[1]));
      list.appendChild(li);
    });
    (d.inc[key] || []).forEach(function (r) {
      var li = el("li", (n.relations[r[0]] || r[0]) + " در ");
      li.appendChild(spanButton(root, r[1], (d.spans[r[1]] || {}).text || r[1]));
      list.appendChild(li);
    });
    if (list.children.length) { tip.appendChild(el("div", "روابط:")); tip.appendChild(list); }
    var outer = first.parentElement && first.parentElement.closest(".sp");
    if (outer && root.contains(outer)) {
      var line = el("div", "درون: ");
      for (; outer && root.contains(outer); outer = outer.parentElement.closest(".sp")) {
        var o = d.spans[outer.dataset.s] || {};
        line.appendChild(el("small", o.label + " "));
        line.appendChild(spanButton(root, outer.dataset.s, o.text || ""));
        line.appendChild(document.createTextNode(" "));
      }
      tip.appendChild(line);
    }
  }

  function placeTip(first) {
    var r = first.getBoundingClientRect();
    tip.hidden = false;
    tip.style.top = (r.bottom + window.scrollY + 6) + "px";
    var left = r.right + window.scrollX - tip.offsetWidth;
    tip.style.left = Math.max(4 + window.scrollX, left) + "px";
  }

  function select(root, key, pin, scroll) {
    clear();
    pinned = pin;
    var own = elementsOf(root, key);
    if (!own.length) return;
    own.forEach(function (e) { e.classList.add("sel"); });
    var d = docData(root);
    (d.out[key] || []).concat(d.inc[key] || []).forEach(function (r) {
      elementsOf(root, r[1]).forEach(function (e) { e.classList.add("linked"); });
    });
    if (!tip) { tip = el("div", "", "pie-tip"); tip.setAttribute("role", "tooltip"); document.body.appendChild(tip); }
    fillTip(root, key, own[0]);
    if (scroll) own[0].scrollIntoView({ block: "center" });
    placeTip(own[0]);
  }

  document.addEventListener("mouseover", function (ev) {
    if (pinned) return;
    var sp = ev.target.closest && ev.target.closest(".pie-doc .sp");
    if (sp) select(sp.closest(".pie-doc"), sp.dataset.s, false, false);
    else if (!(tip && tip.contains(ev.target))) clear();
  });

  document.addEventListener("click", function (ev) {
    if (tip && tip.contains(ev.target)) return;
    var link = ev.target.closest && ev.target.closest(".pie-doc [data-goto]");
    if (link) {
      ev.preventDefault();
      select(link.closest(".pie-doc"), link.dataset.goto, true, true);
      return;
    }
    var sp = ev.target.closest && ev.target.closest(".pie-doc .sp");
    if (sp) { select(sp.closest(".pie-doc"), sp.dataset.s, true, false); return; }
    pinned = false;
    clear();
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { pinned = false; clear(); }
  });
})();

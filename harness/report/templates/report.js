// @ts-check
/**
 * The report page's filters (index.html): scenario, endpoint, caller and status.
 *
 * Every element marked `data-filter` carries the fields it can be filtered by
 * (`data-scenario`, `data-endpoint`, `data-caller`, `data-status`); an element without a
 * field is not filtered by it (a metric table row has no scenario or status). Nothing is
 * recomputed here: the figures are the run's, filtering only hides what was not asked
 * for. `data-status` holds tokens: `ok`, `failed`, `disturbed` (a call can be both of
 * the last two). Inlined into the page by harness/report/html.py; type-checked by
 * `make lint` (ci/js/tsconfig.report.json).
 */
(() => {
  const form = document.getElementById("filters");
  if (!(form instanceof HTMLFormElement)) return;
  const count = document.getElementById("filter-count");
  const FIELDS = ["scenario", "endpoint", "caller", "status"];

  /** @param {string} name @returns {string} the chosen value, "" for all */
  const chosen = (name) => {
    const field = form.elements.namedItem(name);
    return field instanceof HTMLSelectElement ? field.value : "";
  };

  /** @param {string} have @param {string} want */
  const statusMatches = (have, want) => {
    const tokens = have.split(" ");
    return want === "not-ok" ? !tokens.includes("ok") : tokens.includes(want);
  };

  /** @param {HTMLElement} el @param {Map<string, string>} want */
  const matches = (el, want) => {
    for (const [key, value] of want) {
      const have = el.dataset[key];
      if (value === "" || have === undefined) continue;
      if (key === "status" ? !statusMatches(have, value) : have !== value) return false;
    }
    return true;
  };

  const apply = () => {
    const want = new Map(FIELDS.map((name) => [name, chosen(name)]));
    let calls = 0;
    let shown = 0;
    for (const el of document.querySelectorAll("[data-filter]")) {
      if (!(el instanceof HTMLElement)) continue;
      const visible = matches(el, want);
      el.hidden = !visible;
      if (el.classList.contains("call")) {
        calls += 1;
        if (visible) shown += 1;
      }
    }
    if (count !== null) count.textContent = `showing ${shown} of ${calls} calls`;
  };

  form.addEventListener("change", apply);
  form.addEventListener("submit", (ev) => ev.preventDefault());
  apply();
})();

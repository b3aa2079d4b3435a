// CVSS calculator: progressive enhancement of a CVSS vector text field.
//
// Markup: a wrapper with `data-cvss-calculator` around the labelled text
// field (value "collapsed" puts the pickers in a closed <details>). Without
// JavaScript the wrapper is just the field, and the server scores the vector.
// With it, radio groups for the eight CVSS 3.1 base metrics appear below the
// field: picking all of them writes the vector, typing a valid vector sets
// them, and the base score is shown in a polite live region.
import {
  CVSS31_METRICS,
  cvss31BaseScore,
  cvssRating,
  formatCvss31,
  parseCvss31,
} from "./cvss31.js";

for (const wrapper of document.querySelectorAll("[data-cvss-calculator]")) {
  const input = wrapper.querySelector('input[type="text"]');
  if (input && input.id) enhance(wrapper, input);
}

/** Creates an element with attributes and children (strings become text). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function enhance(wrapper, input) {
  const id = input.id;
  // The score, announced politely, and read with the field it describes.
  const result = el("p", {
    id: `${id}-score`,
    class: "cvss-result",
    "aria-live": "polite",
  });
  input.setAttribute(
    "aria-describedby",
    [input.getAttribute("aria-describedby"), result.id]
      .filter(Boolean)
      .join(" "),
  );

  // One fieldset of radio buttons per metric. The radios name a form that
  // does not exist, so they have no form owner and are never submitted: the
  // text field stays the only thing the server receives.
  const groups = CVSS31_METRICS.map((metric) =>
    el(
      "fieldset",
      { class: "cvss-metric" },
      el("legend", {}, `${metric.name} (${metric.key})`),
      el(
        "div",
        { class: "cvss-options" },
        ...metric.values.map(([value, label]) =>
          el(
            "div",
            { class: "choice" },
            el("input", {
              type: "radio",
              id: `${id}-${metric.key}-${value}`,
              name: `${id}-${metric.key}`,
              value,
              form: `${id}-calculator-no-form`,
              "data-metric": metric.key,
            }),
            el("label", { for: `${id}-${metric.key}-${value}` }, label),
          ),
        ),
      ),
    ),
  );
  const pickers = el(
    "fieldset",
    { class: "cvss-metrics" },
    el("legend", {}, "CVSS 3.1 base metrics"),
    el("div", { class: "cvss-grid" }, ...groups),
  );
  const calculator = el("div", { class: "cvss-calc" }, result);
  if (wrapper.dataset.cvssCalculator === "collapsed") {
    calculator.append(
      el(
        "details",
        { class: "cvss-details" },
        el("summary", {}, "Choose CVSS 3.1 metrics"),
        pickers,
      ),
    );
  } else {
    calculator.append(pickers);
  }
  wrapper.append(calculator);
  // Metrics chosen in part are sent along (the field stays as it was), so
  // the server refuses them naming what is missing instead of dropping them.
  // Disabled (so not sent) while nothing is chosen in part.
  const partial = el("input", { type: "hidden", name: `${input.name}Picked` });
  const setPartial = (value) => {
    partial.value = value;
    partial.disabled = value === "";
  };
  setPartial("");
  wrapper.append(partial);

  const radios = [...calculator.querySelectorAll('input[type="radio"]')];
  /** The picked value of each metric ({ AV: "N", ... }), undefined when unpicked. */
  const picked = () =>
    Object.fromEntries(
      radios.filter((r) => r.checked).map((r) => [r.dataset.metric, r.value]),
    );

  // Field → pickers: a valid 3.1 vector sets them; an empty field or a 4.0
  // vector clears them; anything else (half typed) leaves them alone.
  function syncPickers() {
    const text = input.value.trim();
    const parsed = parseCvss31(text);
    for (const radio of radios) {
      if (parsed)
        radio.checked = parsed.metrics[radio.dataset.metric] === radio.value;
      else if (text === "" || text.startsWith("CVSS:4.0/"))
        radio.checked = false;
    }
  }

  // Pickers → field: once every metric is chosen, write the vector, keeping
  // any temporal or environmental metrics already typed after the base ones.
  function writeVector() {
    const metrics = picked();
    const count = Object.keys(metrics).length;
    setPartial(
      count > 0 && count < CVSS31_METRICS.length
        ? `CVSS:3.1/${CVSS31_METRICS.filter((m) => metrics[m.key])
            .map((m) => `${m.key}:${metrics[m.key]}`)
            .join("/")}`
        : "",
    );
    if (count < CVSS31_METRICS.length) return;
    const extra = parseCvss31(input.value)?.extra ?? "";
    input.value = formatCvss31(metrics, extra);
  }

  function showScore() {
    const text = input.value.trim();
    const parsed = parseCvss31(text);
    const missing = CVSS31_METRICS.length - Object.keys(picked()).length;
    let message;
    if (parsed) {
      const score = cvss31BaseScore(text);
      message = `Base score ${score.toFixed(1)} (${cvssRating(score)}).`;
      if (parsed.extra)
        message += " The other metrics are scored when you send.";
    } else if (missing > 0 && missing < CVSS31_METRICS.length) {
      message = `Choose ${missing} more metric${missing === 1 ? "" : "s"} to get the vector and score.`;
    } else if (text.startsWith("CVSS:4.0/")) {
      message = "CVSS 4.0 vector: the score is computed when you send.";
    } else if (text === "") {
      message = "Choose the metrics below or type a vector to see the score.";
    } else {
      message = "Not a complete CVSS 3.1 vector yet.";
    }
    // Only changed text is written, so screen readers are not told twice.
    if (result.textContent !== message) result.textContent = message;
  }

  calculator.addEventListener("change", () => {
    writeVector();
    showScore();
  });
  input.addEventListener("input", () => {
    syncPickers();
    // A typed vector that set or cleared every picker leaves nothing partial.
    const count = Object.keys(picked()).length;
    if (count === 0 || count === CVSS31_METRICS.length) setPartial("");
    showScore();
  });
  syncPickers();
  showScore();
}

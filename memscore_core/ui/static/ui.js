// memscore ui: draw each page's plotly figures; on /review, j/k move between candidates and a/r decide.
"use strict";

function drawCharts() {
  for (const el of document.querySelectorAll(".chart[data-figure]")) {
    const figure = JSON.parse(el.dataset.figure);
    Plotly.newPlot(el, figure.data, figure.layout, {responsive: true, displaylogo: false});
  }
}

function reviewKeys() {
  const list = document.getElementById("candidates");
  if (!list) return;
  const items = () => Array.from(list.querySelectorAll("li.candidate"));
  const message = document.getElementById("review-message");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let current = 0;

  function select(index) {
    const all = items();
    if (!all.length) return;
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((li, i) => li.classList.toggle("selected", i === current));
    all[current].scrollIntoView({block: "nearest"});
  }

  async function decide(decision) {
    const li = items()[current];
    if (!li) return;
    const body = new URLSearchParams({csrf, candidate_id: li.dataset.candidate, decision});
    const answer = await fetch("/review/decide", {method: "POST", body, credentials: "same-origin",
                                                 headers: {"Accept": "application/json"}});
    const result = await answer.json();
    if (!answer.ok) {
      message.textContent = "error: " + result.error;
      message.className = "message error";
      return;
    }
    li.dataset.status = result.status;
    const state = li.querySelector(".state");
    state.textContent = result.status;
    state.className = "state " + result.status;
    message.textContent = "#" + result.candidate_id + " " + result.status;
    message.className = "message";
    select(current + 1);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
    const action = {j: () => select(current + 1), k: () => select(current - 1),
                    a: () => decide("approve"), r: () => decide("reject")}[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
  list.addEventListener("click", (event) => {
    const li = event.target.closest("li.candidate");
    if (li) select(items().indexOf(li));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawCharts();
  reviewKeys();
});

/**
 * The "Export CSV" link follows the selected sensor: the export URL that the
 * template filled in (data-base-url) with ?sensor=NAME added.
 */
export function createExportLink(link) {
  const base = link?.dataset.baseUrl;
  return {
    follow(sensor) {
      if (!link || !base) return;
      const query = new URLSearchParams({ sensor });
      link.href = `${base}?${query}`;
    },
  };
}

//! Seats and other fixed costs from CSV and by hand: bad rows named by file and line and
//! skipped, good ones kept; a second import replaces rather than adds; the costs count in the
//! spend reports and budgets.

mod support;

use flightdeck_core::domain::fixed_costs::{self, FixedCost};
use flightdeck_core::metrics::reports::{self, SpendBy};
use support::{both, TestDb};

const CSV: &str = "\
month,vendor,description,amount_usd,note
2026-11,Anthropic,\"Claude Team, 5 seats\",150.00,ok
2026-11,openai,ChatGPT Business,$60,dollar sign
2026-13,openai,bad month,10,
2026-11,cursor,bad amount,ten,
2026-10,anthropic,\"Claude Team, 5 seats\",150,
";

async fn csv_import_counts_in_spend(db: TestDb) {
    let (costs, problems) = fixed_costs::parse_csv(CSV, "seats.csv").unwrap();
    assert_eq!(costs.len(), 3);
    assert_eq!(
        costs[0],
        FixedCost {
            vendor: "anthropic".into(),
            month: "2026-11".into(),
            description: "Claude Team, 5 seats".into(),
            amount_usd: 150.0,
        }
    );
    assert_eq!(costs[1].amount_usd, 60.0);
    assert_eq!(
        problems,
        vec![
            "seats.csv:4: month `2026-13` is not YYYY-MM".to_string(),
            "seats.csv:5: amount_usd `ten` is not a number".to_string(),
        ]
    );
    fixed_costs::save(&db.store, &costs).await.unwrap();
    // Imported again (a corrected file): replaced, not doubled.
    let mut again = costs.clone();
    again[1].amount_usd = 80.0;
    fixed_costs::save(&db.store, &again).await.unwrap();
    assert_eq!(fixed_costs::list(&db.store).await.unwrap().len(), 3);

    let r = reports::spend(
        &db.store,
        SpendBy::Vendor,
        Some("2026-11-01"),
        Some("2026-11-30"),
    )
    .await
    .unwrap();
    let by: Vec<(&str, f64)> = r
        .rows
        .iter()
        .map(|x| (x.key.as_str(), x.cost_usd))
        .collect();
    assert_eq!(by, vec![("anthropic", 150.0), ("openai", 80.0)]);
    let r = reports::spend(&db.store, SpendBy::Month, None, None)
        .await
        .unwrap();
    let by: Vec<(&str, f64)> = r
        .rows
        .iter()
        .map(|x| (x.key.as_str(), x.cost_usd))
        .collect();
    assert_eq!(by, vec![("2026-10", 150.0), ("2026-11", 230.0)]);
    db.finish().await;
}
both!(csv_import_counts_in_spend);

#[test]
fn a_file_without_the_columns_is_refused_whole() {
    let e = fixed_costs::parse_csv("when,who,how much\n2026-11,x,1\n", "c.csv")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("c.csv: the header must name month, vendor and amount_usd"),
        "{e}"
    );
    assert!(e.contains("when, who, how much"), "{e}");
    let e = FixedCost::new("", "2026-11", "", "1", "cli").unwrap_err();
    assert_eq!(e, "cli: vendor is empty");
    let e = FixedCost::new("x", "2026-11", "", "-3", "cli").unwrap_err();
    assert!(e.contains("not a cost"), "{e}");
}

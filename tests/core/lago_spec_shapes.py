"""Lago's response objects and operations, as Lago's OpenAPI specification (getlago/lago-openapi,
API 1.51) documents them, written down compactly for tests/core/test_lago_shapes.py.

SHAPES: object name -> its fields, "name:type" separated by spaces; a "!" after the name marks a
required field. Types: str, int, num (any JSON number), bool, obj, any, null, another object of this
table by name, [T] a list of T, {name:T,...} an inline object (its required fields), and a
trailing "?" when null is allowed. OPERATIONS: (method, path, "root:type ...") of the 2xx answer.
"""

from __future__ import annotations

SHAPES: dict[str, str] = {
    "ActivityLogObject": (
        "activity_id!:str user_email:str? activity_type!:str activity_source!:str activity_object:obj? "
        "activity_object_changes:obj? external_customer_id:str? external_subscription_id:str? resource_id!:str "
        "resource_type!:str organization_id!:str logged_at!:str created_at!:str"
    ),
    "ApiLogObject": (
        "api_version!:str client!:str http_method!:str http_status!:int logged_at!:str request_body!:str "
        "request_origin!:str request_path!:str created_at!:str request_id!:str request_response:str"
    ),
    "AddOnObject": (
        "lago_id!:str name!:str invoice_display_name!:str? code!:str amount_cents!:int amount_currency!:str "
        "description!:str? created_at!:str taxes:[TaxObject]"
    ),
    "BillingEntityObject": (
        "lago_id!:str code!:str name!:str default_currency!:str document_locale!:str document_numbering!:str "
        "document_number_prefix:str? finalize_zero_amount_invoice!:bool invoice_footer:str? invoice_grace_period!:int "
        "subscription_invoice_issuing_date_anchor:str subscription_invoice_issuing_date_adjustment:str "
        "is_default:bool net_payment_term!:int address_line1:str? address_line2:str? city:str? state:str? "
        "country:str? zipcode:str? email:str? legal_name:str? legal_number:str? tax_identification_number:str? "
        "timezone!:str email_settings:[str] eu_tax_management:bool logo_url:str? created_at!:str updated_at!:str"
    ),
    "BillingEntityObjectExtended": (
        "lago_id!:str code!:str name!:str default_currency!:str document_locale!:str document_numbering!:str "
        "document_number_prefix:str? finalize_zero_amount_invoice!:bool invoice_footer:str? invoice_grace_period!:int "
        "subscription_invoice_issuing_date_anchor:str subscription_invoice_issuing_date_adjustment:str "
        "is_default:bool net_payment_term!:int address_line1:str? address_line2:str? city:str? state:str? "
        "country:str? zipcode:str? email:str? legal_name:str? legal_number:str? tax_identification_number:str? "
        "timezone!:str email_settings:[str] eu_tax_management:bool logo_url:str? created_at!:str updated_at!:str "
        "taxes:[TaxObject] selected_invoice_custom_sections:[InvoiceCustomSectionObject]"
    ),
    "TaxObject": (
        "lago_id!:str name!:str code!:str description:str? rate!:num applied_to_organization!:bool created_at!:str"
    ),
    "PaginationMeta": "current_page!:int next_page:int? prev_page:int? total_pages!:int total_count!:int",
    "AppliedCouponObject": (
        "lago_id!:str lago_coupon_id!:str coupon_code!:str coupon_name!:str coupon_status:str "
        "coupon_deleted_at:str? lago_customer_id!:str external_customer_id!:str status!:str amount_cents:int? "
        "amount_cents_remaining:int? amount_currency:str? percentage_rate:str? frequency!:str "
        "frequency_duration:int? frequency_duration_remaining:int? expiration_at:str? created_at!:str "
        "terminated_at:str?"
    ),
    "AppliedCouponObjectExtended": (
        "lago_id!:str lago_coupon_id!:str coupon_code!:str coupon_name!:str coupon_status:str "
        "coupon_deleted_at:str? lago_customer_id!:str external_customer_id!:str status!:str amount_cents:int? "
        "amount_cents_remaining:int? amount_currency:str? percentage_rate:str? frequency!:str "
        "frequency_duration:int? frequency_duration_remaining:int? expiration_at:str? created_at!:str "
        "terminated_at:str? credits!:[CreditObject]"
    ),
    "CreditObject": (
        "lago_id!:str amount_cents!:int amount_currency!:str before_taxes!:bool "
        "item!:{lago_item_id:str,type:str,code:str,name:str} invoice!:{lago_id:str,payment_status:str}"
    ),
    "BillableMetricObject": (
        "lago_id!:str name!:str code!:str description:str? recurring!:bool rounding_function:str? "
        "rounding_precision:int? created_at!:str expression:str field_name:str? aggregation_type!:str "
        "weighted_interval:str? filters:[BillableMetricFilterObject]"
    ),
    "BillableMetricFilterObject": "key!:str values!:[str]",
    "CouponObject": (
        "lago_id!:str name!:str code!:str description:str? coupon_type!:str amount_cents:int? "
        "amount_currency:str? reusable!:bool limited_plans!:bool plan_codes:[str] "
        "limited_billable_metrics!:bool billable_metric_codes:[str] percentage_rate:str? frequency!:str "
        "frequency_duration:int? expiration!:str expiration_at:str? created_at!:str terminated_at:str?"
    ),
    "CreditNoteExtendedObject": (
        "lago_id!:str billing_entity_code!:str sequential_id!:int number!:str lago_invoice_id!:str "
        "invoice_number!:str issuing_date!:str credit_status:str? refund_status:str? reason!:str "
        "description:str? currency!:str total_amount_cents!:int taxes_amount_cents!:int taxes_rate!:num "
        "sub_total_excluding_taxes_amount_cents!:int balance_amount_cents!:int credit_amount_cents!:int "
        "refund_amount_cents!:int offset_amount_cents!:int coupons_adjustment_amount_cents!:int "
        "created_at!:str updated_at!:str file_url:str? items:[CreditNoteItemObject] "
        "applied_taxes:[CreditNoteAppliedTaxObject] self_billed:bool customer:CustomerBaseObject "
        "metadata:MetadataObject? error_details:[CreditNoteErrorDetailsObject]?"
    ),
    "CreditNoteItemObject": "lago_id!:str amount_cents!:int amount_currency!:str fee!:FeeObject",
    "FeeObject": (
        "lago_id:str? lago_charge_id:str? lago_charge_filter_id:str? lago_fixed_charge_id:str? "
        "lago_invoice_id:str? lago_true_up_fee_id:str? lago_true_up_parent_fee_id:str? "
        "lago_subscription_id:str? lago_customer_id:str? external_customer_id:str? "
        "external_subscription_id:str? amount_cents!:int precise_amount:str precise_total_amount:str "
        "amount_currency!:str taxes_amount_cents!:int taxes_precise_amount:str taxes_rate!:num units!:str "
        "precise_unit_amount!:str total_aggregated_units!:str total_amount_cents!:int "
        "total_amount_currency!:str events_count:int? pay_in_advance!:bool invoiceable!:bool from_date:str? "
        "to_date:str? payment_status!:str created_at:str? succeeded_at:str? failed_at:str? refunded_at:str? "
        "event_transaction_id:str? description:str? precise_coupons_amount_cents:str "
        "sub_total_excluding_taxes_amount_cents!:int sub_total_excluding_taxes_precise_amount_cents!:str "
        "amount_details:FeeAmountDetails self_billed:bool "
        "item!:{type:str,code:str,name:str,lago_item_id:str,item_type:str} "
        "applied_taxes:[FeeAppliedTaxObject] pricing_unit_details:PricingUnitDetailsObject "
        "presentation_breakdowns:[{}]"
    ),
    "FeeAmountDetails": (
        "plan_amount_cents:int "
        "graduated_ranges:[{units:str,from_value:int,to_value:int?,flat_unit_amount:str,per_unit_amount:str,per_unit_total_amount:str,total_with_flat_amount:str}] "
        "graduated_percentage_ranges:[{units:str,from_value:int,to_value:int?,flat_unit_amount:str,rate:str,per_unit_total_amount:str,total_with_flat_amount:str}] "
        "free_units:str paid_units:str per_package_size:int per_package_unit_amount:str "
        "per_unit_total_amount:str units:str free_events:int rate:str paid_events:int "
        "fixed_fee_unit_amount:str fixed_fee_total_amount:str min_max_adjustment_total_amount:str "
        "per_unit_amount:str flat_unit_amount:str"
    ),
    "FeeAppliedTaxObject": (
        "lago_id!:str lago_tax_id!:str? tax_name!:str tax_code!:str tax_rate!:num tax_description!:str? "
        "amount_cents!:int amount_currency!:str created_at!:str"
    ),
    "PricingUnitDetailsObject": (
        "lago_pricing_unit_id!:str pricing_unit_code!:str short_name!:str amount_cents!:int "
        "precise_amount_cents!:str unit_amount_cents!:int precise_unit_amount!:str conversion_rate!:str"
    ),
    "CreditNoteAppliedTaxObject": (
        "lago_id!:str lago_tax_id!:str? tax_name!:str tax_code!:str tax_rate!:num tax_description!:str? "
        "amount_cents!:int amount_currency!:str created_at!:str"
    ),
    "CustomerBaseObject": (
        "lago_id!:str sequential_id!:int slug!:str external_id!:str billing_entity_code:str "
        "address_line1:str? address_line2:str? applicable_timezone!:str city:str? country:str? currency:str? "
        "email:str? legal_name:str? legal_number:str? logo_url:str? name:str? firstname:str? lastname:str? "
        "account_type:str customer_type:str? phone:str? state:str? tax_identification_number:str? "
        "timezone:str? url:str? zipcode:str? net_payment_term:int? created_at!:str updated_at:str "
        "finalize_zero_amount_invoice:str skip_invoice_custom_sections:bool "
        "billing_configuration:CustomerBillingConfiguration shipping_address:Address "
        "metadata:[CustomerMetadata]"
    ),
    "CustomerBillingConfiguration": (
        "invoice_grace_period:int subscription_invoice_issuing_date_anchor:str? "
        "subscription_invoice_issuing_date_adjustment:str? payment_provider:str payment_provider_code:str "
        "provider_customer_id:str sync:bool sync_with_provider:bool document_locale:str "
        "provider_payment_methods:[str]?"
    ),
    "Address": "address_line1:str? address_line2:str? city:str? country:str? state:str? zipcode:str?",
    "CustomerMetadata": "lago_id!:str key!:str value!:str display_in_invoice!:bool created_at!:str",
    "MetadataObject": "",  # free keys
    "CreditNoteErrorDetailsObject": "lago_id!:str error_code!:str details!:obj",
    "CreditNoteObject": (
        "lago_id!:str billing_entity_code!:str sequential_id!:int number!:str lago_invoice_id!:str "
        "invoice_number!:str issuing_date!:str credit_status:str? refund_status:str? reason!:str "
        "description:str? currency!:str total_amount_cents!:int taxes_amount_cents!:int taxes_rate!:num "
        "sub_total_excluding_taxes_amount_cents!:int balance_amount_cents!:int credit_amount_cents!:int "
        "refund_amount_cents!:int offset_amount_cents!:int coupons_adjustment_amount_cents!:int "
        "created_at!:str updated_at!:str file_url:str? items:[CreditNoteItemObject] "
        "applied_taxes:[CreditNoteAppliedTaxObject] self_billed:bool customer:CustomerBaseObject "
        "metadata:MetadataObject? error_details:[CreditNoteErrorDetailsObject]?"
    ),
    "CustomerObjectExtended": (
        "lago_id!:str sequential_id!:int slug!:str external_id!:str billing_entity_code:str "
        "address_line1:str? address_line2:str? applicable_timezone!:str city:str? country:str? currency:str? "
        "email:str? legal_name:str? legal_number:str? logo_url:str? name:str? firstname:str? lastname:str? "
        "account_type:str customer_type:str? phone:str? state:str? tax_identification_number:str? "
        "timezone:str? url:str? zipcode:str? net_payment_term:int? created_at!:str updated_at:str "
        "finalize_zero_amount_invoice:str skip_invoice_custom_sections:bool "
        "billing_configuration:CustomerBillingConfiguration shipping_address:Address "
        "metadata:[CustomerMetadata] integration_customers:[IntegrationCustomer] taxes:[TaxObject] "
        "applicable_invoice_custom_sections:[InvoiceCustomSectionObject] error_details:[ErrorDetailObject]"
    ),
    "IntegrationCustomer": (
        "lago_id!:str type!:str integration_code!:str external_customer_id!:str sync_with_provider:bool? "
        "subsidiary_id:str targeted_object:str? email:str?"
    ),
    "InvoiceCustomSectionObject": (
        "lago_id!:str name!:str code!:str description:str details:str display_name:str "
        "applied_to_organization:bool organization_id:str created_at:str"
    ),
    "ErrorDetailObject": "lago_id!:str? error_code!:str details!:obj",
    "EventObject": (
        "lago_id:str? transaction_id!:str lago_customer_id!:str? code!:str timestamp!:str "
        "precise_total_amount_cents:str? properties:{} lago_subscription_id!:str? "
        "external_subscription_id!:str created_at:str?"
    ),
    "InvoiceObjectExtended": (
        "lago_id!:str billing_entity_code!:str? sequential_id:int number!:str issuing_date!:str "
        "payment_dispute_lost_at:str payment_due_date:str payment_overdue:bool net_payment_term:int "
        "invoice_type!:str status!:str payment_status!:str currency!:str fees_amount_cents!:int "
        "coupons_amount_cents!:int credit_notes_amount_cents!:int sub_total_excluding_taxes_amount_cents!:int "
        "taxes_amount_cents!:int sub_total_including_taxes_amount_cents!:int prepaid_credit_amount_cents!:int "
        "prepaid_granted_credit_amount_cents:int? prepaid_purchased_credit_amount_cents:int? "
        "progressive_billing_credit_amount_cents!:int total_amount_cents!:int version_number!:int "
        "self_billed:bool file_url:str web_url:str? created_at!:str updated_at!:str customer:CustomerObject "
        "metadata:[InvoiceMetadataObject] applied_taxes:[InvoiceAppliedTaxObject] "
        "applied_invoice_custom_sections:[InvoiceAppliedInvoiceCustomSectionObject] "
        "applied_usage_thresholds:[AppliedUsageThresholdObject] billing_periods:[BillingPeriodObject] "
        "credits:[CreditObject] fees:[FeeObject] subscriptions:[SubscriptionObject] "
        "error_details:[ErrorDetailObject]"
    ),
    "CustomerObject": (
        "lago_id!:str sequential_id!:int slug!:str external_id!:str billing_entity_code:str "
        "address_line1:str? address_line2:str? applicable_timezone!:str city:str? country:str? currency:str? "
        "email:str? legal_name:str? legal_number:str? logo_url:str? name:str? firstname:str? lastname:str? "
        "account_type:str customer_type:str? phone:str? state:str? tax_identification_number:str? "
        "timezone:str? url:str? zipcode:str? net_payment_term:int? created_at!:str updated_at:str "
        "finalize_zero_amount_invoice:str skip_invoice_custom_sections:bool "
        "billing_configuration:CustomerBillingConfiguration shipping_address:Address "
        "metadata:[CustomerMetadata] integration_customers:[IntegrationCustomer]"
    ),
    "InvoiceMetadataObject": "lago_id:str key:str value:str created_at:str",
    "InvoiceAppliedTaxObject": (
        "lago_id!:str lago_tax_id!:str? tax_name!:str tax_code!:str tax_rate!:num tax_description!:str? "
        "amount_cents!:int amount_currency!:str created_at!:str"
    ),
    "InvoiceAppliedInvoiceCustomSectionObject": "lago_id!:str lago_invoice_id!:str code!:str details!:str display_name!:str created_at!:str",
    "AppliedUsageThresholdObject": "lifetime_usage_amount_cents!:int created_at!:str usage_threshold!:UsageThresholdObject",
    "UsageThresholdObject": (
        "lago_id!:str threshold_display_name!:str? amount_cents!:int recurring!:bool created_at!:str updated_at!:str"
    ),
    "BillingPeriodObject": (
        "lago_subscription_id!:str external_subscription_id!:str lago_plan_id!:str "
        "subscription_from_datetime!:str subscription_to_datetime!:str charges_from_datetime!:str "
        "charges_to_datetime!:str invoicing_reason!:str"
    ),
    "SubscriptionObject": (
        "lago_id!:str external_id!:str lago_customer_id!:str external_customer_id!:str "
        "billing_entity_code:str billing_time!:str name!:str? plan_code!:str plan_amount_cents:int "
        "plan_amount_currency:str status!:str created_at!:str canceled_at!:str? started_at!:str? "
        "ending_at!:str? subscription_at!:str terminated_at!:str? previous_plan_code!:str? "
        "next_plan_code!:str? downgrade_plan_date!:str? trial_ended_at!:str? "
        "current_billing_period_started_at!:str? current_billing_period_ending_at!:str? "
        "on_termination_credit_note!:str? on_termination_invoice!:str "
        "applied_invoice_custom_sections:[AppliedInvoiceCustomSectionObject] "
        "payment_method:PaymentMethodReference consolidate_invoice:bool cancellation_reason:str? "
        "activated_at:str? activation_rules:[SubscriptionActivationRuleObject] purchase_order_number:str?"
    ),
    "AppliedInvoiceCustomSectionObject": (
        "lago_id!:str created_at!:str invoice_custom_section_id:str invoice_custom_section!:InvoiceCustomSectionObject"
    ),
    "PaymentMethodReference": "payment_method_type:str payment_method_id:str",
    "SubscriptionActivationRuleObject": (
        "lago_id!:str type!:str timeout_hours!:int status!:str expires_at:str? created_at!:str updated_at!:str"
    ),
    "InvoiceObject": (
        "lago_id!:str billing_entity_code!:str? sequential_id:int number!:str issuing_date!:str "
        "payment_dispute_lost_at:str payment_due_date:str payment_overdue:bool net_payment_term:int "
        "invoice_type!:str status!:str payment_status!:str currency!:str fees_amount_cents!:int "
        "coupons_amount_cents!:int credit_notes_amount_cents!:int sub_total_excluding_taxes_amount_cents!:int "
        "taxes_amount_cents!:int sub_total_including_taxes_amount_cents!:int prepaid_credit_amount_cents!:int "
        "prepaid_granted_credit_amount_cents:int? prepaid_purchased_credit_amount_cents:int? "
        "progressive_billing_credit_amount_cents!:int total_amount_cents!:int version_number!:int "
        "self_billed:bool file_url:str web_url:str? created_at!:str updated_at!:str customer:CustomerObject "
        "metadata:[InvoiceMetadataObject] applied_taxes:[InvoiceAppliedTaxObject] "
        "applied_invoice_custom_sections:[InvoiceAppliedInvoiceCustomSectionObject] "
        "applied_usage_thresholds:[AppliedUsageThresholdObject]"
    ),
    "PlanObject": (
        "lago_id!:str name!:str invoice_display_name:str created_at!:str code!:str interval!:str "
        "description:str amount_cents!:int amount_currency!:str trial_period:num pay_in_advance:bool "
        "bill_charges_monthly:bool? bill_fixed_charges_monthly:bool? "
        "minimum_commitment:MinimumCommitmentObject? charges:[ChargeObject] fixed_charges:[FixedChargeObject] "
        "taxes:[TaxObject] usage_thresholds:[UsageThresholdObject] entitlements:[PlanEntitlement] "
        "metadata:MetadataObject?"
    ),
    "MinimumCommitmentObject": (
        "lago_id!:str plan_code:str amount_cents!:int invoice_display_name:str interval:str created_at!:str "
        "updated_at:str taxes:[TaxObject]"
    ),
    "ChargeObject": (
        "lago_id!:str lago_billable_metric_id!:str code:str? billable_metric_code!:str "
        "invoice_display_name:str? created_at!:str charge_model!:str pay_in_advance!:bool invoiceable!:bool "
        "regroup_paid_fees!:str? prorated!:bool min_amount_cents!:int properties!:ChargeObjectProperties "
        "filters!:[ChargeFilterObject] taxes:[TaxObject] applied_pricing_unit:{code:str,conversion_rate:str}? "
        "accepts_target_wallet:bool? lago_parent_id:str?"
    ),
    "ChargeObjectProperties": (
        "grouped_by:[str] pricing_group_keys:[str] "
        "graduated_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}] "
        "graduated_percentage_ranges:[{from_value:int,to_value:int?,rate:str,flat_amount:str}] amount:str "
        "free_units:int package_size:int rate:str fixed_amount:str free_units_per_events:int? "
        "free_units_per_total_aggregation:str? per_transaction_max_amount:str? "
        "per_transaction_min_amount:str? "
        "volume_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}] "
        "presentation_group_keys:[{}]"
    ),
    "ChargeFilterObject": "invoice_display_name!:str? properties!:ChargeProperties values!:obj",
    "ChargeProperties": (
        "grouped_by:[str] pricing_group_keys:[str] "
        "graduated_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}] "
        "graduated_percentage_ranges:[{from_value:int,to_value:int?,rate:str,flat_amount:str}] amount:str "
        "free_units:int package_size:int rate:str fixed_amount:str free_units_per_events:int? "
        "free_units_per_total_aggregation:str? per_transaction_max_amount:str? "
        "per_transaction_min_amount:str? "
        "volume_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}]"
    ),
    "FixedChargeObject": (
        "lago_id!:str lago_add_on_id!:str invoice_display_name!:str add_on_code!:str created_at!:str "
        "code!:str charge_model!:str pay_in_advance!:bool prorated!:bool properties!:FixedChargeProperties "
        "units!:num lago_parent_id:str? taxes:[TaxObject]"
    ),
    "FixedChargeProperties": (
        "amount:str graduated_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}] "
        "volume_ranges:[{from_value:int,to_value:int?,flat_amount:str,per_unit_amount:str}]"
    ),
    "PlanEntitlement": "entitlement!:PlanEntitlementObject",
    "PlanEntitlementObject": "code!:str name!:str? description!:str? privileges!:[PlanEntitlementPrivilegeObject]",
    "PlanEntitlementPrivilegeObject": "code!:str name!:str? value_type!:str config!:{} value!:any",
    "SubscriptionObjectExtended": (
        "lago_id!:str external_id!:str lago_customer_id!:str external_customer_id!:str "
        "billing_entity_code:str billing_time!:str name!:str? plan_code!:str plan_amount_cents:int "
        "plan_amount_currency:str status!:str created_at!:str canceled_at!:str? started_at!:str? "
        "ending_at!:str? subscription_at!:str terminated_at!:str? previous_plan_code!:str? "
        "next_plan_code!:str? downgrade_plan_date!:str? trial_ended_at!:str? "
        "current_billing_period_started_at!:str? current_billing_period_ending_at!:str? "
        "on_termination_credit_note!:str? on_termination_invoice!:str "
        "applied_invoice_custom_sections:[AppliedInvoiceCustomSectionObject] "
        "payment_method:PaymentMethodReference consolidate_invoice:bool cancellation_reason:str? "
        "activated_at:str? activation_rules:[SubscriptionActivationRuleObject] purchase_order_number:str? "
        "plan:PlanObject applicable_usage_thresholds:[ApplicableUsageThreshold]"
    ),
    "ApplicableUsageThreshold": "threshold_display_name!:str? amount_cents!:int recurring!:bool",
    "WalletObject": (
        "lago_id!:str lago_customer_id!:str external_customer_id!:str billing_entity_code:str status!:str "
        "currency!:str name:str? code:str? priority:int rate_amount!:str credits_balance!:str "
        "balance_cents!:int consumed_credits!:str created_at!:str expiration_at:str? "
        "last_balance_sync_at:str? last_consumed_credit_at:str? terminated_at:str? "
        "invoice_requires_successful_payment!:bool applies_to:{} "
        "recurring_transaction_rules:[WalletRecurringTransactionRule] ongoing_balance_cents!:int "
        "ongoing_usage_balance_cents!:int credits_ongoing_balance!:str credits_ongoing_usage_balance!:str "
        "paid_top_up_min_amount_cents:int? paid_top_up_max_amount_cents:int? "
        "applied_invoice_custom_sections:[AppliedInvoiceCustomSectionObject] "
        "payment_method:PaymentMethodReference purchase_order_number:str? metadata:MetadataObject?"
    ),
    "WalletRecurringTransactionRule": (
        "lago_id!:str trigger!:str method!:str interval!:str status!:str threshold_credits!:str "
        "paid_credits!:str granted_credits!:str grants_target_top_up!:bool? started_at!:str? "
        "target_ongoing_balance!:str? created_at!:str expiration_at!:str? "
        "invoice_requires_successful_payment!:bool transaction_metadata!:[{}] transaction_name!:str? "
        "ignore_paid_top_up_limits!:bool applied_invoice_custom_sections:[AppliedInvoiceCustomSectionObject] "
        "payment_method:PaymentMethodReference purchase_order_number:str?"
    ),
    "WalletTransactionObject": (
        "lago_id!:str lago_wallet_id!:str lago_invoice_id!:str? lago_credit_note_id!:str? "
        "lago_voided_invoice_id!:str? status!:str source!:str transaction_status!:str transaction_type!:str "
        "amount!:str credit_amount!:str invoice_requires_successful_payment!:bool metadata!:[{}] "
        "remaining_amount_cents!:int? remaining_credit_amount!:str? priority!:int settled_at!:str? "
        "failed_at!:str? created_at!:str name!:str? "
        "applied_invoice_custom_sections:[AppliedInvoiceCustomSectionObject] "
        "payment_method!:PaymentMethodReference purchase_order_number:str?"
    ),
    "GrossRevenueObject": "month!:str amount_cents!:int currency!:str invoices_count!:int",
    "InvoiceCollectionObject": "month!:str payment_status:str invoices_count!:int amount_cents:int currency:str",
    "InvoicedUsageObject": "month!:str code:str amount_cents!:int currency!:str",
    "MrrObject": "month!:str amount_cents!:int currency!:str",
    "OverdueBalanceObject": "month!:str amount_cents!:int currency!:str lago_invoice_ids!:[str]",
    "UsageObject": "organization_id!:str start_of_period_dt:str end_of_period_dt:str amount_currency!:str amount_cents!:int billable_metric_code:str units:str is_billable_metric_deleted:bool",
    "FeatureObject": "code!:str name!:str? description!:str? privileges!:[FeaturePrivilegeObject] created_at!:str",
    "FeaturePrivilegeObject": "code!:str name!:str? value_type!:str config!:obj",
    "PaymentObject": "lago_id!:str lago_customer_id!:str external_customer_id!:str invoice_ids!:[str] invoice_numbers:[str] lago_payable_id!:str payable_type!:str amount_cents!:int amount_currency!:str status!:str payment_status!:str type!:str reference!:str payment_provider_code!:str payment_provider_type!:str external_payment_id!:str? provider_payment_id!:str? provider_customer_id!:str payment_method_id:str? next_action!:obj created_at!:str",
    "PaymentRequestObject": "lago_id!:str email!:str amount_cents!:int amount_currency!:str payment_status!:str created_at!:str customer!:CustomerBaseObject invoices!:[InvoiceBaseObject]",
    "InvoiceBaseObject": "lago_id!:str billing_entity_code!:str? sequential_id:int number!:str issuing_date!:str payment_dispute_lost_at:str payment_due_date:str payment_overdue:bool net_payment_term:int invoice_type!:str status!:str payment_status!:str currency!:str fees_amount_cents!:int coupons_amount_cents!:int credit_notes_amount_cents!:int sub_total_excluding_taxes_amount_cents!:int taxes_amount_cents!:int sub_total_including_taxes_amount_cents!:int prepaid_credit_amount_cents!:int prepaid_granted_credit_amount_cents:int? prepaid_purchased_credit_amount_cents:int? progressive_billing_credit_amount_cents!:int total_amount_cents!:int version_number!:int self_billed:bool file_url:str web_url:str? created_at!:str updated_at!:str",
    "WalletAlertObject": "lago_id!:str lago_organization_id!:str external_subscription_id!:null lago_wallet_id:str wallet_code:str billable_metric!:null alert_type!:str code!:str name!:str? direction:str previous_value!:num last_processed_at!:str? thresholds!:[AlertThresholdObject] created_at!:str",
    "AlertThresholdObject": "code!:str? recurring!:bool value!:str",
    "CustomerUsageObject": "from_datetime!:str to_datetime!:str issuing_date!:str lago_invoice_id:str? currency:str amount_cents!:int taxes_amount_cents!:int total_amount_cents!:int charges_usage!:[CustomerChargeUsageObject]",
    "CustomerChargeUsageObject": "units!:str total_aggregated_units!:str events_count!:int amount_cents!:int amount_currency!:str pricing_unit_details:UsagePricingUnitDetailsObject charge!:{lago_id:str,charge_model:str} billable_metric!:{lago_id:str,name:str,code:str,aggregation_type:str} filters:[obj] grouped_usage:[obj] presentation_breakdowns:[obj]",
    "UsagePricingUnitDetailsObject": "amount_cents!:int short_name!:str conversion_rate!:str",
    "CustomerProjectedUsageObject": "from_datetime!:str to_datetime!:str issuing_date!:str lago_invoice_id:str? currency:str amount_cents!:int projected_amount_cents!:int taxes_amount_cents!:int total_amount_cents!:int charges_usage!:[CustomerProjectedChargeUsageObject]",
    "CustomerProjectedChargeUsageObject": "units!:str projected_units!:str events_count!:int amount_cents!:int projected_amount_cents!:int amount_currency!:str pricing_unit_details:UsagePricingUnitDetailsObject charge!:{lago_id:str,charge_model:str} billable_metric!:{lago_id:str,name:str,code:str,aggregation_type:str} filters:[obj] grouped_usage:[obj] presentation_breakdowns:[obj] projected_presentation_breakdowns:[obj]",
    "CustomerCheckoutUrl": "lago_customer_id!:str external_customer_id!:str payment_provider!:str payment_provider_code:str checkout_url:str",
    "PaymentMethodObject": "lago_id!:str is_default!:bool payment_provider_code:str? payment_provider_name:str? payment_provider_type!:str provider_method_id!:str created_at!:str",
    "FeeEstimateObject": "lago_id:null lago_charge_id:str lago_charge_filter_id:str? lago_invoice_id:null lago_true_up_fee_id:null lago_true_up_parent_fee_id:null lago_subscription_id:str lago_customer_id:str external_customer_id:str external_subscription_id:str amount_cents!:int precise_amount:num precise_total_amount:num amount_currency!:str taxes_amount_cents!:int taxes_precise_amount:num taxes_rate!:num units!:str description:null precise_unit_amount!:num precise_coupons_amount_cents:str total_amount_cents!:int total_amount_currency!:str events_count:int pay_in_advance!:bool invoiceable!:bool payment_status!:str created_at:null succeeded_at:null failed_at:null refunded_at:null event_transaction_id:str amount_details:null item!:{type:str,code:str,name:str,lago_item_id:str,item_type:str}",
    "OrganizationObject": "lago_id!:str name!:str created_at!:str? webhook_url:str? webhook_urls:[str]? country:str? default_currency:str address_line1:str? address_line2:str? state:str? zipcode:str? email:str? city:str? legal_name:str? legal_number:str? document_numbering!:str document_number_prefix!:str net_payment_term:int tax_identification_number:str? timezone:str billing_configuration!:OrganizationBillingConfiguration taxes:[TaxObject] finalize_zero_amount_invoice:bool events_store:str",
    "OrganizationBillingConfiguration": "invoice_footer:str? invoice_grace_period:int document_locale:str",
    "PaymentReceiptObject": "lago_id!:str created_at!:str number!:str payment!:PaymentObject",
    "ChargeFilterFullObject": "lago_id!:str charge_code!:str invoice_display_name!:str? properties!:ChargeProperties values!:obj",
    "LifetimeUsageObject": "lago_id!:str lago_subscription_id!:str external_subscription_id!:str external_historical_usage_amount_cents!:int invoiced_usage_amount_cents!:int current_usage_amount_cents!:int from_datetime!:str? to_datetime!:str usage_thresholds:[LifetimeUsageThresholdObject]",
    "LifetimeUsageThresholdObject": "amount_cents!:int completion_ratio!:num reached_at!:str?",
    "AlertObject": "lago_id!:str lago_organization_id!:str external_subscription_id!:str? lago_wallet_id:null wallet_code:null billable_metric!:BillableMetricObject alert_type!:str code!:str name!:str? direction:str previous_value!:num last_processed_at!:str? thresholds!:[AlertThresholdObject] created_at!:str",
    "SubscriptionEntitlementObject": "code!:str name!:str? description!:str? privileges!:[SubscriptionEntitlementPrivilegeObject] overrides!:obj",
    "SubscriptionEntitlementPrivilegeObject": "code!:str name!:str? value_type!:str config!:obj value!:any plan_value!:any override_value!:any",
    "WalletTransactionConsumptionObject": "lago_id!:str amount_cents!:int credit_amount!:str created_at!:str wallet_transaction!:WalletTransactionObject",
    "WalletTransactionFundingObject": "lago_id!:str amount_cents!:int credit_amount!:str created_at!:str wallet_transaction!:WalletTransactionObject",
    "WebhookPublicKeyObject": "public_key!:str",
    "WebhookEndpointObject": "lago_id!:str lago_organization_id!:str webhook_url!:str signature_algo:str name:str? event_types:[str]? created_at!:str",
}

OPERATIONS: list[tuple[str, str, str]] = [
    ("GET", "/activity_logs", "activity_logs:[ActivityLogObject] meta:PaginationMeta"),
    ("GET", "/activity_logs/{activity_id}", "activity_log:ActivityLogObject"),
    ("GET", "/api_logs", "api_logs:[ApiLogObject] meta:PaginationMeta"),
    ("GET", "/api_logs/{request_id}", "api_log:ApiLogObject"),
    ("POST", "/add_ons", "add_on:AddOnObject"),
    ("GET", "/add_ons", "add_ons:[AddOnObject] meta:PaginationMeta"),
    ("PUT", "/add_ons/{code}", "add_on:AddOnObject"),
    ("GET", "/add_ons/{code}", "add_on:AddOnObject"),
    ("DELETE", "/add_ons/{code}", "add_on:AddOnObject"),
    ("POST", "/applied_coupons", "applied_coupon:AppliedCouponObject"),
    ("GET", "/applied_coupons", "applied_coupons:[AppliedCouponObjectExtended] meta:PaginationMeta"),
    ("POST", "/billable_metrics", "billable_metric:BillableMetricObject"),
    ("GET", "/billable_metrics", "billable_metrics:[BillableMetricObject] meta:PaginationMeta"),
    ("PUT", "/billable_metrics/{code}", "billable_metric:BillableMetricObject"),
    ("DELETE", "/billable_metrics/{code}", "billable_metric:BillableMetricObject"),
    ("GET", "/billable_metrics/{code}", "billable_metric:BillableMetricObject"),
    # The specification documents the answers of POST and PUT without their root key; Lago's server
    # (and its client) wraps them in `billing_entity`, as bxb does.
    ("GET", "/billing_entities", "billing_entities:[BillingEntityObject]"),
    ("POST", "/billing_entities", "billing_entity:BillingEntityObject"),
    ("GET", "/billing_entities/{code}", "billing_entity:BillingEntityObjectExtended"),
    ("PUT", "/billing_entities/{code}", "billing_entity:BillingEntityObjectExtended"),
    ("POST", "/coupons", "coupon:CouponObject"),
    ("GET", "/coupons", "coupons:[CouponObject] meta:PaginationMeta"),
    ("PUT", "/coupons/{code}", "coupon:CouponObject"),
    ("GET", "/coupons/{code}", "coupon:CouponObject"),
    ("DELETE", "/coupons/{code}", "coupon:CouponObject"),
    ("POST", "/credit_notes", "credit_note:CreditNoteExtendedObject"),
    ("GET", "/credit_notes", "credit_notes:[CreditNoteObject] meta:PaginationMeta"),
    ("PUT", "/credit_notes/{lago_id}", "credit_note:CreditNoteExtendedObject"),
    ("GET", "/credit_notes/{lago_id}", "credit_note:CreditNoteExtendedObject"),
    (
        "POST",
        "/credit_notes/estimate",
        "estimated_credit_note:{lago_invoice_id:str,invoice_number:str,currency:str,taxes_amount_cents:int,precise_taxes_amount_cents:num,sub_total_excluding_taxes_amount_cents:int,max_creditable_amount_cents:int,max_refundable_amount_cents:int,max_offsettable_amount_cents:int,coupons_adjustment_amount_cents:int,precise_coupons_adjustment_amount_cents:num,taxes_rate:num,items:[{amount_cents:int,lago_fee_id:str?}]}",
    ),
    ("PUT", "/credit_notes/{lago_id}/void", "credit_note:CreditNoteExtendedObject"),
    ("POST", "/customers", "customer:CustomerObjectExtended"),
    ("GET", "/customers", "customers:[CustomerObjectExtended] meta:PaginationMeta"),
    ("GET", "/customers/{external_customer_id}", "customer:CustomerObjectExtended"),
    ("DELETE", "/customers/{external_customer_id}", "customer:CustomerObjectExtended"),
    (
        "POST",
        "/events",
        "event:{transaction_id:str,lago_customer_id:null,code:str,timestamp:str,lago_subscription_id:str?,external_subscription_id:str}",
    ),
    ("GET", "/events", "events:[EventObject] meta:PaginationMeta"),
    (
        "POST",
        "/events/batch",
        "events:[{transaction_id:str,lago_customer_id:null,code:str,timestamp:str,lago_subscription_id:str?,external_subscription_id:str}]",
    ),
    ("GET", "/events/{transaction_id}", "event:EventObject"),
    ("GET", "/fees", "fees:[FeeObject] meta:PaginationMeta"),
    ("GET", "/fees/{lago_id}", "fee:FeeObject"),
    ("PUT", "/fees/{lago_id}", "fee:FeeObject"),
    ("DELETE", "/fees/{lago_id}", "fee:FeeObject"),
    ("POST", "/invoices", "invoice:InvoiceObjectExtended"),
    ("GET", "/invoices", "invoices:[InvoiceObject] meta:PaginationMeta"),
    ("PUT", "/invoices/{lago_id}", "invoice:InvoiceObjectExtended"),
    ("GET", "/invoices/{lago_id}", "invoice:InvoiceObjectExtended"),
    ("DELETE", "/invoices/{lago_id}", "invoice:InvoiceObjectExtended"),
    ("PUT", "/invoices/{lago_id}/finalize", "invoice:InvoiceObjectExtended"),
    ("PUT", "/invoices/{lago_id}/refresh", "invoice:InvoiceObjectExtended"),
    ("POST", "/invoices/{lago_id}/void", "invoice:InvoiceObjectExtended"),
    ("POST", "/plans", "plan:PlanObject"),
    ("GET", "/plans", "plans:[PlanObject] meta:PaginationMeta"),
    ("PUT", "/plans/{code}", "plan:PlanObject"),
    ("GET", "/plans/{code}", "plan:PlanObject"),
    ("DELETE", "/plans/{code}", "plan:PlanObject"),
    ("POST", "/subscriptions", "subscription:SubscriptionObjectExtended"),
    ("GET", "/subscriptions", "subscriptions:[SubscriptionObject] meta:PaginationMeta"),
    ("GET", "/subscriptions/{external_id}", "subscription:SubscriptionObjectExtended"),
    ("PUT", "/subscriptions/{external_id}", "subscription:SubscriptionObject"),
    ("DELETE", "/subscriptions/{external_id}", "subscription:SubscriptionObject"),
    ("POST", "/taxes", "tax:TaxObject"),
    ("GET", "/taxes", "taxes:[TaxObject] meta:PaginationMeta"),
    ("PUT", "/taxes/{code}", "tax:TaxObject"),
    ("GET", "/taxes/{code}", "tax:TaxObject"),
    ("DELETE", "/taxes/{code}", "tax:TaxObject"),
    ("POST", "/wallets", "wallet:WalletObject"),
    ("GET", "/wallets", "wallets:[WalletObject] meta:PaginationMeta"),
    ("PUT", "/wallets/{lago_id}", "wallet:WalletObject"),
    ("GET", "/wallets/{lago_id}", "wallet:WalletObject"),
    ("DELETE", "/wallets/{lago_id}", "wallet:WalletObject"),
    ("POST", "/wallet_transactions", "wallet_transactions:[WalletTransactionObject]"),
    (
        "GET",
        "/wallets/{lago_id}/wallet_transactions",
        "wallet_transactions:[WalletTransactionObject] meta:PaginationMeta",
    ),
    ("GET", "/analytics/gross_revenue", "gross_revenues:[GrossRevenueObject]"),
    ("GET", "/analytics/invoice_collection", "invoice_collections:[InvoiceCollectionObject]"),
    ("GET", "/analytics/invoiced_usage", "invoiced_usages:[InvoicedUsageObject]"),
    ("GET", "/analytics/mrr", "mrrs:[MrrObject]"),
    ("GET", "/analytics/overdue_balance", "overdue_balances:[OverdueBalanceObject]"),
    ("GET", "/analytics/usage", "usages:[UsageObject]"),
    ("POST", "/billable_metrics/evaluate_expression", "expression_result:{value:any}"),
    ("POST", "/features", "feature:FeatureObject"),
    ("GET", "/features", "features:[FeatureObject] meta:PaginationMeta"),
    ("PUT", "/features/{code}", "feature:FeatureObject"),
    ("DELETE", "/features/{code}", "feature:FeatureObject"),
    ("GET", "/features/{code}", "feature:FeatureObject"),
    ("DELETE", "/features/{code}/privileges/{privilege_code}", "feature:FeatureObject"),
    ("POST", "/credit_notes/{lago_id}/download", "credit_note:CreditNoteObject"),
    ("POST", "/credit_notes/{lago_id}/metadata", "metadata:obj?"),
    ("PATCH", "/credit_notes/{lago_id}/metadata", "metadata:obj?"),
    ("DELETE", "/credit_notes/{lago_id}/metadata", "metadata:obj?"),
    ("DELETE", "/credit_notes/{lago_id}/metadata/{key}", "metadata:obj?"),
    (
        "GET",
        "/customers/{external_customer_id}/applied_coupons",
        "applied_coupons:[AppliedCouponObjectExtended] meta:PaginationMeta",
    ),
    (
        "DELETE",
        "/customers/{external_customer_id}/applied_coupons/{applied_coupon_id}",
        "applied_coupon:AppliedCouponObject",
    ),
    ("GET", "/customers/{external_customer_id}/credit_notes", "credit_notes:[CreditNoteObject] meta:PaginationMeta"),
    ("GET", "/customers/{external_customer_id}/invoices", "invoices:[InvoiceObject] meta:PaginationMeta"),
    ("GET", "/customers/{external_customer_id}/payments", "payments:[PaymentObject] meta:PaginationMeta"),
    (
        "GET",
        "/customers/{external_customer_id}/payment_requests",
        "payment_requests:[PaymentRequestObject] meta:PaginationMeta",
    ),
    ("GET", "/customers/{external_customer_id}/portal_url", "customer:{portal_url:str}"),
    (
        "GET",
        "/customers/{external_customer_id}/subscriptions",
        "subscriptions:[SubscriptionObject] meta:PaginationMeta",
    ),
    ("POST", "/customers/{external_customer_id}/wallets", "wallet:WalletObject"),
    ("GET", "/customers/{external_customer_id}/wallets", "wallets:[WalletObject] meta:PaginationMeta"),
    ("PUT", "/customers/{external_customer_id}/wallets/{code}", "wallet:WalletObject"),
    ("GET", "/customers/{external_customer_id}/wallets/{code}", "wallet:WalletObject"),
    ("DELETE", "/customers/{external_customer_id}/wallets/{code}", "wallet:WalletObject"),
    ("POST", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", "metadata:obj?"),
    ("PATCH", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", "metadata:obj?"),
    ("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata", "metadata:obj?"),
    ("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/metadata/{key}", "metadata:obj?"),
    (
        "GET",
        "/customers/{external_customer_id}/wallets/{wallet_code}/alerts",
        "alerts:[WalletAlertObject] meta:PaginationMeta",
    ),
    ("POST", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", "alert:WalletAlertObject"),
    ("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts", ""),
    ("GET", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert:WalletAlertObject"),
    ("PUT", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert:WalletAlertObject"),
    ("DELETE", "/customers/{external_customer_id}/wallets/{wallet_code}/alerts/{code}", "alert:WalletAlertObject"),
    ("GET", "/customers/{external_customer_id}/current_usage", "customer_usage:CustomerUsageObject"),
    (
        "GET",
        "/customers/{external_customer_id}/projected_usage",
        "customer_projected_usage:CustomerProjectedUsageObject",
    ),
    ("GET", "/customers/{external_customer_id}/past_usage", "usage_periods:[CustomerUsageObject] meta:PaginationMeta"),
    ("POST", "/customers/{external_customer_id}/checkout_url", "customer:CustomerCheckoutUrl"),
    (
        "GET",
        "/customers/{external_customer_id}/payment_methods",
        "payment_methods:[PaymentMethodObject] meta:PaginationMeta",
    ),
    (
        "PUT",
        "/customers/{external_customer_id}/payment_methods/{lago_id}/set_as_default",
        "payment_method:PaymentMethodObject",
    ),
    ("DELETE", "/customers/{external_customer_id}/payment_methods/{lago_id}", "payment_method:PaymentMethodObject"),
    ("POST", "/events/estimate_fees", "fees:[FeeObject]"),
    ("POST", "/events/estimate_instant_fees", "fees:[FeeEstimateObject]"),
    ("POST", "/events/batch_estimate_instant_fees", "fees:[FeeEstimateObject]"),
    ("POST", "/invoices/{lago_id}/download", "invoice:InvoiceObjectExtended"),
    ("POST", "/invoices/{lago_id}/lose_dispute", "invoice:InvoiceObjectExtended"),
    ("POST", "/invoices/{lago_id}/retry", "invoice:InvoiceObjectExtended"),
    ("POST", "/invoices/{lago_id}/payment_url", "invoice_payment_details:obj"),
    ("POST", "/invoices/preview", "invoice:InvoiceObjectExtended"),
    ("POST", "/invoices/{lago_id}/retry_payment", ""),
    ("PUT", "/organizations", "organization:OrganizationObject"),
    ("GET", "/payment_receipts", "payment_receipts:[PaymentReceiptObject] meta:PaginationMeta"),
    ("GET", "/payment_receipts/{lago_id}", "payment_receipt:PaymentReceiptObject"),
    ("POST", "/payment_requests", "payment_request:PaymentRequestObject"),
    ("GET", "/payment_requests", "payment_requests:[PaymentRequestObject] meta:PaginationMeta"),
    # The specification shows the object unwrapped; Lago's server (and bxb) wrap it in `payment_request`.
    ("GET", "/payment_requests/{lago_id}", "payment_request:PaymentRequestObject"),
    ("POST", "/payments", "payment:PaymentObject"),
    ("GET", "/payments", "payments:[PaymentObject] meta:PaginationMeta"),
    # The specification shows the object unwrapped; Lago's server (and bxb) wrap it in `payment`.
    ("GET", "/payments/{lago_id}", "payment:PaymentObject"),
    ("POST", "/plans/{code}/entitlements", "entitlements:[PlanEntitlementObject]"),
    ("GET", "/plans/{code}/entitlements", "entitlements:[PlanEntitlementObject]"),
    ("PATCH", "/plans/{code}/entitlements", "entitlements:[PlanEntitlementObject]"),
    ("GET", "/plans/{code}/entitlements/{feature_code}", "entitlement:PlanEntitlementObject"),
    ("DELETE", "/plans/{code}/entitlements/{feature_code}", "entitlement:PlanEntitlementObject"),
    (
        "DELETE",
        "/plans/{code}/entitlements/{feature_code}/privileges/{privilege_code}",
        "entitlement:PlanEntitlementObject",
    ),
    ("POST", "/plans/{code}/metadata", "metadata:obj?"),
    ("PATCH", "/plans/{code}/metadata", "metadata:obj?"),
    ("DELETE", "/plans/{code}/metadata", "metadata:obj?"),
    ("DELETE", "/plans/{code}/metadata/{key}", "metadata:obj?"),
    ("POST", "/plans/{code}/charges", "charge:ChargeObject"),
    ("GET", "/plans/{code}/charges", "charges:[ChargeObject] meta:PaginationMeta"),
    ("GET", "/plans/{code}/charges/{charge_code}", "charge:ChargeObject"),
    ("PUT", "/plans/{code}/charges/{charge_code}", "charge:ChargeObject"),
    ("DELETE", "/plans/{code}/charges/{charge_code}", "charge:ChargeObject"),
    ("POST", "/plans/{code}/charges/{charge_code}/filters", "filter:ChargeFilterFullObject"),
    ("GET", "/plans/{code}/charges/{charge_code}/filters", "filters:[ChargeFilterFullObject] meta:PaginationMeta"),
    ("GET", "/plans/{code}/charges/{charge_code}/filters/{filter_id}", "filter:ChargeFilterFullObject"),
    ("PUT", "/plans/{code}/charges/{charge_code}/filters/{filter_id}", "filter:ChargeFilterFullObject"),
    ("DELETE", "/plans/{code}/charges/{charge_code}/filters/{filter_id}", "filter:ChargeFilterFullObject"),
    ("POST", "/plans/{code}/fixed_charges", "fixed_charge:FixedChargeObject"),
    ("GET", "/plans/{code}/fixed_charges", "fixed_charges:[FixedChargeObject] meta:PaginationMeta"),
    ("GET", "/plans/{code}/fixed_charges/{fixed_charge_code}", "fixed_charge:FixedChargeObject"),
    ("PUT", "/plans/{code}/fixed_charges/{fixed_charge_code}", "fixed_charge:FixedChargeObject"),
    ("DELETE", "/plans/{code}/fixed_charges/{fixed_charge_code}", "fixed_charge:FixedChargeObject"),
    ("GET", "/subscriptions/{external_id}/lifetime_usage", "lifetime_usage:LifetimeUsageObject"),
    ("PUT", "/subscriptions/{external_id}/lifetime_usage", "lifetime_usage:LifetimeUsageObject"),
    ("GET", "/subscriptions/{external_id}/alerts", "alerts:[AlertObject] meta:PaginationMeta"),
    # The specification answers one alert or a list (`alerts` in the request): one is sent here.
    ("POST", "/subscriptions/{external_id}/alerts", "alert:AlertObject"),
    ("DELETE", "/subscriptions/{external_id}/alerts", ""),
    ("GET", "/subscriptions/{external_id}/alerts/{code}", "alert:AlertObject"),
    ("PUT", "/subscriptions/{external_id}/alerts/{code}", "alert:AlertObject"),
    ("DELETE", "/subscriptions/{external_id}/alerts/{code}", "alert:AlertObject"),
    ("GET", "/subscriptions/{external_id}/entitlements", "entitlements:[SubscriptionEntitlementObject]"),
    ("PATCH", "/subscriptions/{external_id}/entitlements", "entitlements:[SubscriptionEntitlementObject]"),
    # Lago's server answers the subscription's entitlements (`entitlements`), as bxb does, for the
    # two DELETEs below; the specification documents one `entitlement`.
    (
        "DELETE",
        "/subscriptions/{external_id}/entitlements/{feature_code}",
        "entitlements:[SubscriptionEntitlementObject]",
    ),
    (
        "DELETE",
        "/subscriptions/{external_id}/entitlements/{feature_code}/privileges/{privilege_code}",
        "entitlements:[SubscriptionEntitlementObject]",
    ),
    ("GET", "/subscriptions/{external_id}/fixed_charges", "fixed_charges:[FixedChargeObject] meta:PaginationMeta"),
    ("GET", "/subscriptions/{external_id}/charges", "charges:[ChargeObject] meta:PaginationMeta"),
    ("GET", "/subscriptions/{external_id}/charges/{charge_code}", "charge:ChargeObject"),
    ("PUT", "/subscriptions/{external_id}/charges/{charge_code}", "charge:ChargeObject"),
    ("POST", "/subscriptions/{external_id}/charges/{charge_code}/filters", "filter:ChargeFilterFullObject"),
    (
        "GET",
        "/subscriptions/{external_id}/charges/{charge_code}/filters",
        "filters:[ChargeFilterFullObject] meta:PaginationMeta",
    ),
    ("GET", "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}", "filter:ChargeFilterFullObject"),
    ("PUT", "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}", "filter:ChargeFilterFullObject"),
    (
        "DELETE",
        "/subscriptions/{external_id}/charges/{charge_code}/filters/{filter_id}",
        "filter:ChargeFilterFullObject",
    ),
    ("GET", "/subscriptions/{external_id}/fixed_charges/{fixed_charge_code}", "fixed_charge:FixedChargeObject"),
    ("PUT", "/subscriptions/{external_id}/fixed_charges/{fixed_charge_code}", "fixed_charge:FixedChargeObject"),
    ("POST", "/wallets/{lago_id}/metadata", "metadata:obj?"),
    ("PATCH", "/wallets/{lago_id}/metadata", "metadata:obj?"),
    ("DELETE", "/wallets/{lago_id}/metadata", "metadata:obj?"),
    ("DELETE", "/wallets/{lago_id}/metadata/{key}", "metadata:obj?"),
    # The specification shows the object unwrapped; Lago's server (and bxb) wrap it in `wallet_transaction`.
    ("GET", "/wallet_transactions/{lago_id}", "wallet_transaction:WalletTransactionObject"),
    ("POST", "/wallet_transactions/{lago_id}/payment_url", "wallet_transaction_payment_details:obj"),
    (
        "GET",
        "/wallet_transactions/{lago_id}/consumptions",
        "wallet_transaction_consumptions:[WalletTransactionConsumptionObject] meta:PaginationMeta",
    ),
    (
        "GET",
        "/wallet_transactions/{lago_id}/fundings",
        "wallet_transaction_fundings:[WalletTransactionFundingObject] meta:PaginationMeta",
    ),
    ("GET", "/webhooks/public_key", ""),
    ("GET", "/webhooks/json_public_key", "webhook:WebhookPublicKeyObject"),
    ("POST", "/webhook_endpoints", "webhook_endpoint:WebhookEndpointObject"),
    ("GET", "/webhook_endpoints", "webhook_endpoints:[WebhookEndpointObject] meta:PaginationMeta"),
    ("PUT", "/webhook_endpoints/{lago_id}", "webhook_endpoint:WebhookEndpointObject"),
    ("GET", "/webhook_endpoints/{lago_id}", "webhook_endpoint:WebhookEndpointObject"),
    ("DELETE", "/webhook_endpoints/{lago_id}", "webhook_endpoint:WebhookEndpointObject"),
]
